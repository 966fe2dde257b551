/** Starts the local hub server for the whole e2e run; the returned function stops it. */
import { startHubServer } from './hub-server.ts';

export default async function globalSetup(): Promise<() => Promise<void>> {
  const server = await startHubServer();
  return () => new Promise((resolve) => server.close(() => resolve()));
}
