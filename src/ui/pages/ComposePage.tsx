export function ComposePage() {
  return <div className="page" data-testid="page-compose"><p>Compose (coming next)</p></div>;
}
