/** What a vendor's webhook says, in the router's terms; each vendor's interpreter produces it. */
import type { AccessRecord } from './port.ts';

export interface WebhookFacts {
  vendorDeviceRef: string;
  /** Device facts the vendor signed: reported to the lock device as they are. */
  report?: { battery?: number; online?: boolean; accessAt?: string };
  /** Access records the webhook claims; they count only once the vendor's API confirms them. */
  claimedRecords?: (Pick<AccessRecord, 'method' | 'success'> & { at: number })[];
  /** The vendor says the credential with this reference never reached the lock. */
  lostCredentialRef?: string;
}
