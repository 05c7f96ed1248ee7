/** Reads the queries out of generated dashboard JSON and fills in Grafana's variables for Prometheus. */
export interface DashboardJson {
  uid: string;
  templating: { list: { type: string; name: string; query?: string }[] };
  panels: {
    type: string;
    title: string;
    description?: string;
    datasource?: { uid?: string };
    fieldConfig?: { defaults?: { unit?: string } };
    targets?: { expr: string; datasource?: { uid?: string } }[];
  }[];
}

export interface DashboardTarget {
  panel: string;
  expr: string;
  datasource: string | undefined;
}

export function dashboardTargets(d: DashboardJson): DashboardTarget[] {
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr, datasource: t.datasource?.uid })));
}

/** What Grafana would send: `vars` by name, and $__rate_interval as a fixed window. */
export function substitute(expr: string, vars: Record<string, string>, rateInterval = '1m'): string {
  return expr.replace(/\$(__rate_interval|\w+)/g, (whole, name: string) => {
    if (name === '__rate_interval') return rateInterval;
    const v = vars[name];
    if (v === undefined) throw new Error(`no value for ${whole} in ${expr}`);
    return v;
  });
}
