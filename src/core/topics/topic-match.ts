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
  return coversLevels(outer, inner);
}

/**
 * `outer` covers `inner` level by level, with no exception for `$` topics: a
 * deny filter means every topic its levels match (a deny of `#` denies `$SYS`
 * too, as it always did).
 */
export function filterCoversLiterally(outer: string, inner: string): boolean {
  return coversLevels(outer, inner);
}

function coversLevels(outer: string, inner: string): boolean {
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

/**
 * A matcher for a fixed set of filters, compiled once (split into levels) for a
 * path that asks per message: each call splits the topic once and compares
 * levels, with no `$` exception (see filterCoversLiterally).
 */
export function literalMatcher(filters: readonly string[]): (topic: string) => boolean {
  const compiled = filters.map((filter) => filter.split('/'));
  return (topic) => {
    const levels = topic.split('/');
    for (const filter of compiled) if (levelsMatch(filter, levels)) return true;
    return false;
  };
}

function levelsMatch(filter: readonly string[], levels: readonly string[]): boolean {
  for (let k = 0; k < filter.length; k++) {
    const level = filter[k]!;
    if (level === '#') return true;
    if (k >= levels.length) return false;
    if (level !== '+' && level !== levels[k]) return false;
  }
  return filter.length === levels.length;
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
