/** The service's version, from its package.json: the AsyncAPI document's `info.version`. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'lock-integration-service';

/**
 * The `version` of the nearest package.json above this module that is the service's own: `src/contracts` in
 * development, `dist/src/contracts` in the production image (whose package.json sits beside `dist`).
 * '0.0.0' when none is found. Reads the file system; call once.
 */
export function serviceVersion(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}
