import { ApnsSender, type ApnsCredential, type ApnsSenderOptions } from './apns/apns-sender.js';
import { FcmSender, type FcmSenderOptions } from './fcm/fcm-sender.js';
import type { ServiceAccount } from './fcm/service-account-token.js';
import type { PushSender } from './push-message.js';
import type { CachedCredential } from './sender-cache.js';

/**
 * A provider credential as the sender needs it, opened (the shape of the
 * core's OpenedCredential); `fingerprint` changes with the secret.
 */
export type PushCredential = CachedCredential & (
  | ({ provider: 'apns' } & ApnsCredential)
  | { provider: 'fcm'; serviceAccount: ServiceAccount }
);

/** Where the providers are, when not at Apple's and Google's hosts (fakes, a proxy). */
export type ProviderEndpoints = { apns?: ApnsSenderOptions; fcm?: FcmSenderOptions };

export function createSender(credential: PushCredential, endpoints: ProviderEndpoints = {}): PushSender {
  if (credential.provider === 'fcm') return new FcmSender(credential.serviceAccount, endpoints.fcm);
  const { signingKey, keyId, teamId, topic } = credential;
  return new ApnsSender({ signingKey, keyId, teamId, topic }, endpoints.apns);
}
