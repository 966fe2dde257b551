/** Where scripts/dynamic-routing-report.ts writes into public/zoo/ROUTING.md (merge-report.ts keeps the block). */
export const DYNAMIC_ROUTING_MARKERS = {
  begin: '<!-- dynamic-routing:begin (scripts/dynamic-routing-report.ts) -->',
  end: '<!-- dynamic-routing:end -->',
};
