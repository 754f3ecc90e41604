/**
 * MQTT topic-filter algebra, pure. [MQTT-4.7]: `+` matches one level, `#` the
 * rest (including the parent level); filters starting with a wildcard do not
 * match topics starting with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  // A topic name is a filter without wildcards [MQTT-4.7.1-1], so matching one is covering it.
  return filterCovers(filter, topic);
}

/** Every topic `inner` can match, `outer` matches too. */
export function filterCovers(outer: string, inner: string): boolean {
  if (inner.startsWith('$') && (outer.startsWith('+') || outer.startsWith('#'))) return false;
  const o = outer.split('/');
  const i = inner.split('/');
  for (let k = 0; k < o.length; k++) {
    if (o[k] === '#') return true;
    if (k >= i.length) return false;
    if (i[k] === '#') return false;
    if (o[k] !== '+' && (i[k] === '+' || o[k] !== i[k])) return false;
  }
  return o.length === i.length;
}

/** Some topic matches both filters. */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const n = Math.max(x.length, y.length);
  for (let k = 0; k < n; k++) {
    const p = x[k];
    const q = y[k];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return false;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
  return true;
}

export function levelCount(topic: string): number {
  let levels = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 47) levels++;
  return levels;
}
