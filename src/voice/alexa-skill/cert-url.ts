import { refused } from './refusal.js';

/**
 * The SignatureCertChainUrl rules (https://developer.amazon.com/en-US/docs/alexa/custom-skills/host-a-custom-skill-as-a-web-service.html#cert-verify-signature-certificate-url):
 * https, host s3.amazonaws.com (case-insensitive), a path that starts with
 * /echo.api/ once normalised, port 443 if any. `allowedHost` may name a port
 * (a test's local server); then the URL must name exactly that one.
 */
export function checkCertUrl(value: string, allowedHost: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refused('CERT_URL_INVALID', 'SignatureCertChainUrl is not a URL.');
  }
  const [host, port = '443'] = allowedHost.toLowerCase().split(':');
  // WHATWG URL lowercases the host, drops :443 for https and resolves "/echo.api/../" before we look.
  if (url.protocol !== 'https:') throw refused('CERT_URL_INVALID', 'SignatureCertChainUrl must use https.');
  if (url.hostname !== host) throw refused('CERT_URL_INVALID', `SignatureCertChainUrl must be on ${host}.`);
  if ((url.port || '443') !== port) throw refused('CERT_URL_INVALID', `SignatureCertChainUrl must use port ${port}.`);
  if (!url.pathname.startsWith('/echo.api/')) throw refused('CERT_URL_INVALID', 'SignatureCertChainUrl must be under /echo.api/.');
  return url;
}
