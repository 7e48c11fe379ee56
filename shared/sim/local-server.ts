/** Serving a simulator on 127.0.0.1, as its real API would answer, for the real adapters to call. */
import type { Server } from 'node:http';

export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (a port the system picks unless one is given); closing drops open connections first. */
export async function listenLocally(server: Server, port = 0, beforeClose: () => void = () => {}): Promise<LocalServer> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    close: () =>
      new Promise<void>((resolve) => {
        beforeClose();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
