/**
 * The address users reach the gateway at: the issuer of its tokens and the
 * server its OpenAPI document names. PUBLIC_URL when configured; otherwise
 * http://localhost:<port>, which is only known once the HTTP listener is bound
 * (HTTP_PORT=0 picks the port then), so readers hold this and ask late.
 */
export class PublicUrl {
  private bound: string | undefined;

  constructor(private readonly configured: string | undefined) {}

  /** Called by the composition root once the HTTP listener has its port. */
  listening(port: number): void {
    this.bound = `http://localhost:${port}`;
  }

  get href(): string {
    const href = this.configured ?? this.bound;
    // Nothing issues or names the address before the listener is bound; a caller that does is a wiring bug.
    if (href === undefined) throw new Error('The public URL is not known before the HTTP listener is bound (PUBLIC_URL is unset).');
    return href;
  }
}
