// Reading Prometheus text exposition: the operator's /metrics in e2e tests and the benchmark.

export async function scrape(url: string): Promise<Map<string, number>> {
  return parseMetrics(await (await fetch(url)).text());
}

/** series ("name{labels}") → value */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Sum of `name` over the series whose labels include every pair in `labels`. */
export function sumMetric(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [series, v] of m) {
    const match = /^([^{]+)(\{(.*)\})?$/.exec(series);
    if (!match || match[1] !== name) continue;
    const ls = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v2]) => ls[k] === v2)) total += v;
  }
  return total;
}
