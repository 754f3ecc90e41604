import type { IConnectPacket } from 'mqtt-packet';
import { GatewayError, isGatewayError } from '../core/errors.js';
import type { Core } from '../core/create-core.js';
import type { Permission } from '../core/policy/capability-matrix.js';
import { appAcl, deviceAcl, userAcl } from '../core/topics/topic-acl.js';
import type { TenantContext } from '../auth/context.js';
import { ArrivalOrder } from './arrival-order.js';
import { RateLimiter } from './rate-limiter.js';
import type { MqttSession } from './session.js';

export type ConnectLimits = { messagesPerSecond: number; bytesPerSecond: number };

const JWT = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * CONNECT credentials → MqttSession, all decisions asked of the core:
 * - device or app: username + secret (`gatehouse device create` / `app create`);
 * - a device with a client certificate (mTLS) whose CN is its username or its registered certificate CN;
 * - a person, on WebSocket only: an access token as the password (the username
 *   may name the tenant to act in, like X-Active-Tenant).
 */
export class ConnectAuthenticator {
  constructor(private readonly core: Core, private readonly limits: ConnectLimits) {}

  /** `certificateName`: the CN of a client certificate the TLS listener verified against MQTT_TLS_CLIENT_CA. */
  async authenticate(packet: IConnectPacket, transport: MqttSession['transport'], remoteAddress: string | undefined, certificateName?: string): Promise<MqttSession> {
    const username = packet.username ?? '';
    const password = packet.password?.toString('utf8') ?? '';
    const base = { transport, remoteAddress, rate: new RateLimiter(this.limits.messagesPerSecond, this.limits.bytesPerSecond), arrivals: new ArrivalOrder(), lastViolationEventAt: 0 };
    if (certificateName && !password) {
      const verified = await this.core.auth.credentials.verifyCertificate(certificateName);
      // A username, if sent, must name the same device: its username, or the certificate's CN itself.
      if (username && username !== certificateName && username !== verified.username) throw new GatewayError('INVALID_CREDENTIALS', 'The username does not match the client certificate.');
      return { ...base, ...this.deviceSession(verified) };
    }
    if (!password) throw new GatewayError('UNAUTHENTICATED', 'A username and password (or a client certificate) are required.');

    if (JWT.test(password)) {
      if (transport !== 'ws') throw new GatewayError('UNAUTHENTICATED', 'Access tokens are accepted on WebSocket connections only.');
      const { ctx } = await this.core.auth.requests.authenticate(password, username || undefined);
      if (!ctx) throw new GatewayError('TENANT_REQUIRED', 'The token acts in no tenant.');
      return { ...base, ctx, acl: userAcl(this.allows(ctx, 'device.read')), credentialId: `user:${ctx.principal.id}` };
    }

    const verified = await this.core.auth.credentials.verify(username, password, remoteAddress);
    if (verified.kind === 'device') return { ...base, ...this.deviceSession(verified) };
    return { ...base, ctx: verified.ctx, acl: appAcl(verified.filters), credentialId: verified.ctx.principal.id };
  }

  /** The matrix's telemetry.publish is asked once, here: the ACL then holds the answer for every PUBLISH. */
  private deviceSession(verified: { ctx: TenantContext; deviceName: string }): Pick<MqttSession, 'ctx' | 'acl' | 'deviceName' | 'credentialId'> {
    const { ctx, deviceName } = verified;
    return { ctx, acl: deviceAcl(deviceName, this.allows(ctx, 'telemetry.publish')), deviceName, credentialId: ctx.principal.id };
  }

  private allows(ctx: TenantContext, permission: Permission): boolean {
    try {
      this.core.policy.check(ctx, permission);
      return true;
    } catch (error) {
      if (isGatewayError(error)) return false;
      throw error;
    }
  }
}
