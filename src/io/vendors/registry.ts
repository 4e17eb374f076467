/**
 * Every vendor the service speaks to: how to build its adapter from a property's (resolved) config,
 * what it can issue, known without building one, and for a vendor that sends webhooks, how to verify
 * them and what they say. Adding a vendor is one entry here.
 */
import Type, { type TSchema } from 'typebox';
import type { Clock } from '../../ids.ts';
import type { EgressPolicy } from './egress.ts';
import { guardAdapter } from './guardedAdapter.ts';
import type { DesktopBus } from '../../desktop/desktopBus.ts';
import type { KeyKind } from '../../machines/index.ts';
import { wiegandFormatNames } from '../encoders/wiegand.ts';
import {
  capabilities as genericWiegand,
  createGenericWiegandAdapter,
  type GenericWiegandConfig,
} from './genericWiegand/adapter.ts';
import type { AdapterFactory, RotatingSecrets } from './adapterResolver.ts';
import type { LockAdapter, VendorCapabilities } from './port.ts';
import { capabilities as saltoKs, createSaltoKsAdapter, type SaltoKsConfig } from './saltoKs/adapter.ts';
import {
  capabilities as saltoSpace,
  createSaltoSpaceAdapter,
  type SaltoSpaceConfig,
} from './saltoSpace/adapter.ts';
import { capabilities as seam, createSeamAdapter, type SeamConfig } from './seam/adapter.ts';
import { seamWebhookVerifier } from './seam/webhook.ts';
import { seamWebhookFacts } from './seam/webhookEvents.ts';
import { ttlockCallbackFacts } from './ttlock/callbackEvents.ts';
import { ttlockWebhookVerifier } from './ttlock/webhook.ts';
import type { WebhookVerifier } from './webhook.ts';
import type { WebhookFacts } from './webhookFacts.ts';
import { capabilities as vostio, createVostioAdapter, type VostioConfig } from './vostio/adapter.ts';
import { createTtlockAdapter, capabilities as ttlock, type TtlockConfig } from './ttlock/adapter.ts';

export interface VendorDeps {
  clock: Clock;
  timeoutMs: number;
  /** Live mode's egress policy; none for the simulators of simulated mode (loopback by design). */
  egress?: EgressPolicy;
  /** Live mode: the property's secrets that rotate themselves (a refresh token). */
  secrets?: RotatingSecrets;
  /** The desktop agents (generic-wiegand encodes at the property's desk). */
  desktop?: DesktopBus;
}

interface VendorEntry {
  capabilities: VendorCapabilities;
  /** The config a property stores for the vendor (REST): secrets only as `secret:NAME` references. */
  config: TSchema;
  create(config: Record<string, unknown>, deps: VendorDeps): LockAdapter;
  /** For a vendor that sends webhooks: the verifier for its secret, and what a stored webhook says. */
  webhooks?: {
    verifier(secret: string | undefined): WebhookVerifier;
    facts(body: unknown): WebhookFacts | null;
    /** The vendor gives the endpoint's secret (its shape); absent: the service makes one (a URL token). */
    secretGiven?: RegExp;
  };
}

const Url = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 });
const Text = Type.String({ minLength: 1, maxLength: 200 });
/** A secret's name under the property's adapter (`PUT …/vendor-adapters/:vendor/secrets/:name`). */
export const SECRET_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_-]{0,63}$';
const SecretRef = Type.String({
  pattern: '^(secret:[A-Za-z][A-Za-z0-9_-]{0,63}|env:[A-Za-z_][A-Za-z0-9_]*)$',
  description:
    "secret:NAME: the property adapter's secret NAME (written with PUT …/secrets/NAME); env:NAME: an " +
    'environment variable the operator allowed this tenant (VENDOR_SECRET_ENV_ALLOW)',
});
const Pem = Type.String({ pattern: '^-----BEGIN [A-Z ]+-----', maxLength: 8000 });
const config = (fields: Record<string, TSchema>) => Type.Object(fields, { additionalProperties: false });

// Configs are checked where a property stores them (REST schema); here they are taken as that shape.
const entries: Record<string, VendorEntry> = {
  ttlock: {
    capabilities: ttlock,
    config: config({
      baseUrl: Url,
      clientId: Text,
      clientSecret: SecretRef,
      username: Text,
      password: SecretRef,
    }),
    create: (config, d) => createTtlockAdapter({ config: config as unknown as TtlockConfig, ...d }),
    webhooks: { verifier: ttlockWebhookVerifier, facts: ttlockCallbackFacts },
  },
  'salto-ks': {
    capabilities: saltoKs,
    config: config({
      baseUrl: Url,
      identityUrl: Type.Optional(Url),
      clientId: Text,
      clientSecret: SecretRef,
      siteId: Text,
      refreshToken: Type.Optional(
        Type.String({
          pattern: '^secret:[A-Za-z][A-Za-z0-9_-]{0,63}$',
          description:
            "Authorization-code tenants: the property's secret NAME holding the refresh token from the one " +
            'interactive login; the adapter spends it and stores its successor there (sealed). Without it the ' +
            'adapter uses client credentials.',
        }),
      ),
      guestRoleId: Type.Optional(Text),
      guestEmailDomain: Type.Optional(
        Type.String({ pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$', maxLength: 200 }),
      ),
    }),
    create: (config, d) => createSaltoKsAdapter({ config: config as unknown as SaltoKsConfig, ...d }),
  },
  'salto-space': {
    capabilities: saltoSpace,
    config: config({
      baseUrl: Url,
      username: Text,
      password: SecretRef,
      encoderId: Text,
      timezone: Type.Optional(
        Type.String({ pattern: '^[A-Za-z]+(/[A-Za-z0-9_+-]+){0,2}$|^UTC$', maxLength: 64 }),
      ),
    }),
    create: (config, d) =>
      createSaltoSpaceAdapter({
        config: config as unknown as SaltoSpaceConfig,
        timeoutMs: d.timeoutMs,
        ...(d.egress ? { egress: d.egress } : {}),
      }),
  },
  vostio: {
    capabilities: vostio,
    config: config({
      baseUrl: Type.String({ pattern: '^https://[^\\s]+$', maxLength: 500 }),
      siteId: Text,
      encoderId: Text,
      ca: Type.Union([Pem, SecretRef]),
      clientCert: Type.Union([Pem, SecretRef]),
      clientKey: SecretRef,
    }),
    create: (config, d) => createVostioAdapter({ config: config as unknown as VostioConfig, ...d }),
  },
  seam: {
    capabilities: seam,
    config: config({ endpoint: Url, apiKey: SecretRef }),
    create: (config, d) =>
      createSeamAdapter({
        config: config as unknown as SeamConfig,
        timeoutMs: d.timeoutMs,
        ...(d.egress ? { egress: d.egress } : {}),
      }),
    webhooks: {
      verifier: seamWebhookVerifier,
      facts: seamWebhookFacts,
      secretGiven: /^whsec_[A-Za-z0-9+/=]{16,200}$/,
    },
  },
  'generic-wiegand': {
    capabilities: genericWiegand,
    config: config({
      format: Type.Union(wiegandFormatNames.map((f) => Type.Literal(f))),
      // Numbers arrive as strings through the API's config map (its values are strings first).
      facilityCode: Type.Union([
        Type.Integer({ minimum: 0, maximum: 65_535 }),
        Type.String({ pattern: '^\\d{1,5}$' }),
      ]),
      encodeTimeoutMs: Type.Optional(
        Type.Union([
          Type.Integer({ minimum: 5000, maximum: 120_000 }),
          Type.String({ pattern: '^\\d{4,6}$' }),
        ]),
      ),
    }),
    create: (config, d) =>
      createGenericWiegandAdapter({
        config: config as unknown as GenericWiegandConfig,
        ...(d.desktop ? { desktop: d.desktop } : {}),
      }),
  },
};

export const vendorNames = Object.keys(entries);

/** A vendor's entry; own keys only, so `constructor` or `toString` is no vendor. */
function entry(vendor: string): VendorEntry | undefined {
  return Object.hasOwn(entries, vendor) ? entries[vendor] : undefined;
}

/** The vendors that send webhooks. */
export const webhookVendors = Object.entries(entries).flatMap(([v, e]) => (e.webhooks ? [v] : []));

/** The verifier of a vendor's webhooks for one endpoint's secret (Seam's Svix secret, TTLock's token). */
export function webhookVerifier(vendor: string, secret: string): WebhookVerifier {
  const w = entry(vendor)?.webhooks;
  if (!w) throw new Error(`vendor ${vendor} sends no webhooks`);
  return w.verifier(secret);
}

/** What an endpoint's secret must look like, and whether the service makes it (TTLock) or the vendor gives it. */
export function webhookSecretRule(vendor: string): { given: RegExp } | { generated: true } | null {
  const w = entry(vendor)?.webhooks;
  if (!w) return null;
  return w.secretGiven ? { given: w.secretGiven } : { generated: true };
}

/** What a stored webhook of `vendor` says, or null when it says nothing the router acts on. */
export function webhookFacts(vendor: string, body: unknown): WebhookFacts | null {
  return entry(vendor)?.webhooks?.facts(body) ?? null;
}

export function adapterFactories(deps: VendorDeps): Record<string, AdapterFactory> {
  return Object.fromEntries(
    Object.entries(entries).map(([v, e]) => [
      v,
      (config, egress, secrets) =>
        guardAdapter(
          v,
          e.create(config, { ...deps, ...(egress ? { egress } : {}), ...(secrets ? { secrets } : {}) }),
        ),
    ]),
  );
}

/** What a vendor's adapter declares it can do. */
export function vendorCapabilities(vendor: string): VendorCapabilities {
  const e = entry(vendor);
  if (!e) throw new Error(`no adapter for vendor ${vendor}`);
  return e.capabilities;
}

/** The schema of a vendor's stored config, if the service has an adapter for it. */
export function vendorConfigSchema(vendor: string): TSchema | undefined {
  return entry(vendor)?.config;
}

/**
 * The vendor makes a credential of the kind at once, with the PIN the caller chose (not a card at a desk
 * encoder, not a PIN it chooses itself): such an issue may run in its actor's turn, before its record is
 * committed, since a second run of it finds the first under its operation id.
 */
export function issuesAtOnce(vendor: string, kind: KeyKind): boolean {
  const c = entry(vendor)?.capabilities;
  return !!c && c.issuesPromptly !== false && (kind !== 'pin' || c.callerChosenPin);
}

/** The vendor needs a detail from the caller for the kind: a card's number, or the guest's app account. */
export function needsHolderDetail(vendor: string, kind: KeyKind): boolean {
  const c = entry(vendor)?.capabilities;
  return (kind === 'card' && !!c?.cardNumbers) || (kind === 'mobile_key' && !!c?.mobileKeyRecipients);
}

/** How a guest enters a PIN at the vendor's keypads, where it is more than the digits. */
export function pinEntry(vendor: string): string | undefined {
  return entry(vendor)?.capabilities.pinEntry;
}

export function supportsKind(vendor: string, kind: KeyKind): boolean {
  return entry(vendor)?.capabilities.kinds.includes(kind) ?? false;
}
