/**
 * `generic-wiegand`: standalone doors whose readers take Wiegand cards, with no vendor cloud. A card is
 * issued by encoding it at the property's front desk: the desktop agent connected for the property writes
 * the card's number (in the configured format and facility code) and answers with the card's UID. The
 * operation is journaled by the service (the effect intent) and by the agent (its journal), so a retry after
 * a lost answer or a crash goes to the desk that began it, which writes again only once its encoder says the
 * first attempt wrote nothing (`docs/desktop-agent.md`).
 *
 * What it cannot do: the card holds only its number, so the door knows neither the stay nor a revocation —
 * those live in the door's controller, which this service does not reach. A revoke is refused for good
 * (the credential stays `revoking` and `revoke_stalled` says why: take the card back, or remove the number
 * from the controller) rather than reported done while the card still opens the door.
 */
import type { DesktopBus } from '../../../desktop/desktopBus.ts';
import { wiegandFormats, type WiegandFormatName } from '../../encoders/wiegand.ts';
import { type LockAdapter, type VendorCapabilities, VendorError, type VendorFailure } from '../port.ts';

export const capabilities: VendorCapabilities = {
  vendor: 'generic-wiegand',
  kinds: ['card'],
  updateValidityInPlace: true,
  remoteUnlock: false,
  battery: false,
  callerChosenPin: false,
  accessRecords: false,
  cardNumbers: true,
  mobileKeyRecipients: false,
  listsLocks: false,
  // An encode waits for a card presented at the desk's encoder.
  issuesPromptly: false,
};

export interface GenericWiegandConfig {
  format: WiegandFormatName;
  /** A number (or its digits: the API's config map carries numbers as strings). */
  facilityCode: number | string;
  /** How long the desk has to present and write a card (card insertion included). */
  encodeTimeoutMs?: number | string;
}

/** The agent's failures, as the grant machine sees them. */
const FAILURES: Record<string, VendorFailure> = {
  TIMEOUT: 'ENCODER_TIMEOUT',
  NO_CARD: 'ENCODER_TIMEOUT',
  CARD_REMOVED: 'BUSY',
  WRITE_FAILED: 'BUSY',
  BUSY: 'BUSY',
  OFFLINE: 'OFFLINE',
  PROTOCOL: 'BAD_ANSWER',
  REFUSED: 'INVALID',
};

/**
 * The encode operation of a grant's issue: one card per credential (and generation), whichever of its doors
 * asks: a Wiegand card opens every door whose controller takes its number, so a credential over a room and
 * its areas is one card, not one per door. (`<credential>:<lock>:issue[@n]` → `<credential>:card:issue[@n]`.)
 */
export function cardOperation(issueOperationId: string): string {
  const [credential, , issue] = issueOperationId.split(':');
  return credential && issue ? `${credential}:card:${issue}` : issueOperationId;
}

export function createGenericWiegandAdapter(deps: {
  config: GenericWiegandConfig;
  desktop?: DesktopBus;
}): LockAdapter {
  const { config } = deps;
  const format = wiegandFormats[config.format];
  const encodeMs = Number(config.encodeTimeoutMs ?? 60_000);
  const facilityCode = Number(config.facilityCode);
  const refuse = (what: string): never => {
    throw new VendorError('NOT_SUPPORTED', `generic-wiegand: ${what}`);
  };
  return {
    vendor: 'generic-wiegand',
    capabilities: () => capabilities,
    // The doors have no cloud to list; they are registered at the desk (a synthetic reference each).
    listLocks: async () => [],
    getLock: async (ref) => ({ ref, name: ref, online: null, battery: null }),

    async issueCredential(req) {
      const desktop = deps.desktop;
      if (!desktop) throw new VendorError('OFFLINE', 'generic-wiegand: no desktop bus in this process');
      if (req.kind !== 'card') return refuse(`${req.kind} credentials (cards only)`);
      const site = req.site;
      if (!site) throw new VendorError('INVALID', 'generic-wiegand: the issue names no property');
      const digits = (req.cardNumber ?? '').trim();
      const cardNumber = /^\d{1,12}$/.test(digits) ? Number(digits) : Number.NaN;
      if (!Number.isSafeInteger(cardNumber) || cardNumber > format.maxCardNumber)
        throw new VendorError(
          'INVALID',
          `generic-wiegand: the card number must be 0–${format.maxCardNumber} (${config.format})`,
        );
      let bits: string;
      try {
        bits = format.encode({ facilityCode, cardNumber });
      } catch (e) {
        throw new VendorError('INVALID', `generic-wiegand: ${e instanceof Error ? e.message : String(e)}`);
      }
      const op = cardOperation(req.operationId);
      // Every attempt goes to the desk the operation was first sent to: only it knows whether it wrote.
      const desk = await desktop.agentFor(site.tenantId, site.propertyId, op);
      if (!desk)
        throw new VendorError('OFFLINE', 'generic-wiegand: no desk agent of this property is connected');
      if (!desk.connected)
        throw new VendorError('OFFLINE', 'generic-wiegand: the desk this card was begun at is not connected');
      const { agentId } = desk;
      const answer = await desktop.encode(
        { propertyId: site.propertyId, agentId },
        {
          operationId: op,
          data: { format: config.format, bits },
          rooms: [],
          validFrom: req.validFrom.toISOString(),
          validUntil: req.validUntil.toISOString(),
          timeoutMs: encodeMs,
        },
        // The agent's own timeout first, then the way back.
        encodeMs + 5000,
      );
      if (!answer)
        throw new VendorError('ENCODER_TIMEOUT', 'generic-wiegand: the desk agent did not answer in time');
      if (!answer.ok)
        throw new VendorError(
          FAILURES[answer.failure] ?? 'BAD_ANSWER',
          `generic-wiegand encoder ${answer.failure}: ${answer.reason}`,
        );
      return { vendorRef: `card-${answer.uid}` };
    },

    // The card holds no window: nothing at the door changes (see above).
    modifyValidity: async (req) => ({ outcome: 'modified', vendorRef: req.vendorRef ?? '' }),
    /**
     * A card written cannot be revoked from here. But an issue that never confirmed a card (it timed out,
     * the encoder gave up) is closed once every desk of the property says from its journal that nothing
     * was written for it; a desk not connected, or one still writing, is waited for.
     */
    async revokeCredential(req) {
      if (req.vendorRef)
        return refuse(
          'a Wiegand card cannot be revoked from here: take the card back, or remove its number from the door controller',
        );
      const desktop = deps.desktop;
      if (!desktop || !req.site)
        throw new VendorError('OFFLINE', 'generic-wiegand: no desktop bus for this property');
      const s = await desktop.operationState(req.site.tenantId, cardOperation(req.issueOperationId), 10_000);
      if (!s)
        throw new VendorError('OFFLINE', 'generic-wiegand: the desk this card was begun at is not connected');
      if (s.state === 'none' || (s.state === 'failed' && s.nothingWritten)) return;
      if (s.state === 'encoding' || s.state === 'started')
        throw new VendorError('BUSY', 'generic-wiegand: the desk is still writing this card');
      return refuse(
        s.state === 'unknown'
          ? 'the desk this card was begun at is revoked: a card may exist; take it back, or remove its number from the door controller'
          : 'a card may have been written at the desk: take it back, or remove its number from the door controller',
      );
    },
    remoteUnlock: async () => refuse('no remote unlock'),
    getBattery: async () => null,
    listAccessRecords: async () => refuse('no access records'),
    health: async () => {
      if (!deps.desktop) throw new VendorError('OFFLINE', 'generic-wiegand: no desktop bus');
    },
  };
}
