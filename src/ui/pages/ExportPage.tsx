export function ExportPage() {
  return <div className="page" data-testid="page-export"><p>Export (coming next)</p></div>;
}
