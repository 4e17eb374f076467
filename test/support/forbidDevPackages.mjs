// Loaded with `node --import` in front of the production build: any import of a development package
// (package.json devDependencies) fails, as it would in the production image, which does not have them.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { URL } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
register(
  'data:text/javascript,' +
    encodeURIComponent(`
      const dev = new Set(${JSON.stringify(Object.keys(pkg.devDependencies ?? {}))});
      export async function resolve(specifier, context, next) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        if (dev.has(name)) throw new Error('production build imported the development package ' + name);
        return next(specifier, context);
      }`),
);
