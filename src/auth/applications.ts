// Applications registered for the client credentials grant: `portrait app add`
// registers one and shows its secret once; the token endpoint finds it and checks its
// secret (auth/client-secret-verifier.ts).
import { newId } from '../directory/ids.js';
import type { Application, Store } from '../storage/store.js';
import { hashClientSecret, newClientSecret } from './client-secrets.js';

export type ApplicationStore = Pick<Store, 'ensureTenant' | 'hasTenant' | 'saveApplication' | 'getApplication'>;

export class Applications {
  readonly #store: ApplicationStore;

  constructor(store: ApplicationStore) {
    this.#store = store;
  }

  /** Registers a new application with a new client id; the secret is returned here and never again. */
  async register(
    tenantId: string,
    displayName: string,
    roles: readonly string[],
    redirectUris: readonly string[] = [],
  ): Promise<{ application: Application; secret: string }> {
    await this.#store.ensureTenant(tenantId);
    const secret = newClientSecret();
    const application: Application = {
      tenantId,
      clientId: newId(),
      displayName,
      roles: [...roles],
      secretHash: await hashClientSecret(secret),
      redirectUris: [...redirectUris],
      createdAt: new Date().toISOString(),
    };
    await this.#store.saveApplication(application);
    return { application, secret };
  }

  tenantExists(tenantId: string): Promise<boolean> {
    return this.#store.hasTenant(tenantId);
  }

  /** The application with this client id in the tenant; its secret is still to be checked. */
  find(tenantId: string, clientId: string): Promise<Application | undefined> {
    return this.#store.getApplication(tenantId, clientId);
  }
}
