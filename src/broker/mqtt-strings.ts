/**
 * Whether a string read from an MQTT packet may be used: no U+0000
 * [MQTT-1.5.3-2] [MQTT-4.7.3-2] and no ill-formed UTF-8 [MQTT-1.5.3-1].
 *
 * mqtt-packet decodes strings with Buffer#toString('utf8'), which turns every
 * ill-formed sequence (including encoded surrogates) into U+FFFD, so the
 * decoded string is checked for U+FFFD instead of re-reading the raw bytes.
 * The price: a well-formed U+FFFD (EF BF BD) is refused too, which no real
 * topic, client id or username needs. Two native scans of a short string.
 */
export function isWellFormedMqttString(value: string): boolean {
  return value.indexOf('\u0000') === -1 && value.indexOf('\uFFFD') === -1;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A string from the wire made fit for the audit log: jsonb refuses U+0000 and
 * unpaired surrogates (which cutting a string can leave), so NUL is written
 * as the visible escape `\u0000` and the rest is made well-formed.
 */
export function auditableString(value: string, maxLength = 200): string {
  return value.slice(0, maxLength).replaceAll('\u0000', '\\u0000').replace(LONE_SURROGATE, '\uFFFD');
}
