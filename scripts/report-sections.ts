/**
 * Marked sections of a generated Markdown report (public/zoo/ROUTING.md): each maintainer
 * script owns the block between its begin and end markers and leaves the rest of the file as
 * it is. The begin marker may carry a note after its name: `<!-- NAME:begin (who writes it) -->`.
 */

export interface SectionMarkers {
  /** The whole begin line, e.g. `<!-- dynamic-routing:begin (scripts/dynamic-routing-report.ts) -->`. */
  begin: string;
  end: string;
}

/** The begin-marker prefix that identifies a section whatever note follows its name. */
function beginPrefix(markers: SectionMarkers): string {
  const name = /^<!-- ([\w-]+):begin/.exec(markers.begin);
  if (!name)
    throw new Error(`report-sections: begin marker ${JSON.stringify(markers.begin)} is not '<!-- NAME:begin …'`);
  return `<!-- ${name[1]}:begin`;
}

/** [start, end) of the marked block in `doc` (markers included), or undefined when absent. */
export function findSection(doc: string, markers: SectionMarkers): [number, number] | undefined {
  const from = doc.indexOf(beginPrefix(markers));
  if (from < 0) return undefined;
  const to = doc.indexOf(markers.end, from);
  if (to < 0) throw new Error(`report-sections: '${markers.begin}' has no '${markers.end}' after it`);
  return [from, to + markers.end.length];
}

/** The marked block of `doc` (markers included), or '' when absent. */
export function extractSection(doc: string, markers: SectionMarkers): string {
  const at = findSection(doc, markers);
  return at ? doc.slice(at[0], at[1]) : '';
}

/** `doc` with its marked block replaced by `body` between the markers, or appended when absent. */
export function replaceSection(doc: string, markers: SectionMarkers, body: string): string {
  const block = `${markers.begin}\n${body.trim()}\n${markers.end}`;
  const at = findSection(doc, markers);
  if (!at) return `${doc.trimEnd()}\n\n${block}\n`;
  return doc.slice(0, at[0]) + block + doc.slice(at[1]);
}
