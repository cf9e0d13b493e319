// Applications registered for the client credentials grant: `portrait app add`
// registers one and shows its secret once; the token endpoint authenticates it.
import { newId } from '../directory/ids.js';
import type { Application, Store } from '../storage/store.js';
import { hashClientSecret, newClientSecret, verifyClientSecret } from './client-secrets.js';

export type ApplicationStore = Pick<Store, 'ensureTenant' | 'hasTenant' | 'saveApplication' | 'getApplication'>;

export type Authentication =
  | { readonly ok: true; readonly application: Application }
  | { readonly ok: false; readonly reason: 'unknown-client' | 'wrong-secret' };

export class Applications {
  readonly #store: ApplicationStore;

  constructor(store: ApplicationStore) {
    this.#store = store;
  }

  /** Registers a new application with a new client id; the secret is returned here and never again. */
  async register(tenantId: string, displayName: string, roles: readonly string[]): Promise<{ application: Application; secret: string }> {
    await this.#store.ensureTenant(tenantId);
    const secret = newClientSecret();
    const application: Application = {
      tenantId,
      clientId: newId(),
      displayName,
      roles: [...roles],
      secretHash: await hashClientSecret(secret),
      createdAt: new Date().toISOString(),
    };
    await this.#store.saveApplication(application);
    return { application, secret };
  }

  tenantExists(tenantId: string): Promise<boolean> {
    return this.#store.hasTenant(tenantId);
  }

  /** Checks a client id and secret; the slow hash is computed only for a client that exists. */
  async authenticate(tenantId: string, clientId: string, secret: string): Promise<Authentication> {
    const application = await this.#store.getApplication(tenantId, clientId);
    if (application === undefined) return { ok: false, reason: 'unknown-client' };
    if (!(await verifyClientSecret(secret, application.secretHash))) return { ok: false, reason: 'wrong-secret' };
    return { ok: true, application };
  }
}
