import { Component, type ReactNode } from 'react';

interface Props {
  /** The page's name, for the message ("Compose stopped working"). */
  label: string;
  /** What "Reset this page" does, in a few words ("clears the draft"). */
  resetNote: string;
  /** Resets the page's store (it may load the store's module first); the page then renders afresh. */
  onReset: () => void | Promise<void>;
  children: ReactNode;
}

/**
 * One per page: an error thrown while the page renders shows a plain message and a
 * "Reset this page" action instead of a blank tab; the header and the other pages keep working.
 */
export class PageBoundary extends Component<Props, { error?: Error }> {
  override state: { error?: Error } = {};

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  reset = async (): Promise<void> => {
    await this.props.onReset();
    this.setState({ error: undefined });
  };

  override render(): ReactNode {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <section className="card page-error" role="alert" data-testid="page-error">
        <p>
          <strong>{this.props.label} stopped working.</strong> The other pages and your stored models are not affected.
        </p>
        <p className="mono small">
          {error.name}: {error.message}
        </p>
        <div className="row wrap">
          <button type="button" onClick={() => void this.reset()}>
            Reset this page
          </button>
          <span className="muted small">({this.props.resetNote})</span>
        </div>
      </section>
    );
  }
}
