package dev.m2mfa.authority.http;

import dev.m2mfa.api.Cidr;
import java.net.InetAddress;
import java.util.List;

/**
 * The client's address as the authority decides it. The TCP peer counts, unless the peer is a
 * configured trusted proxy: then {@code X-Forwarded-For} is read from the right, skipping
 * trusted proxies, and the first address they did not add is the client. A hop that is not a
 * numeric address ends the walk at the last trusted proxy (which no machine's CIDRs should
 * contain, so the network factor fails closed). Headers from untrusted peers are ignored.
 */
public final class ClientAddress {
  private static final int MAX_HOPS = 32;

  private ClientAddress() {}

  public static InetAddress resolve(InetAddress peer, String untrustedForwardedFor, List<Cidr> trustedProxies) {
    if (trustedProxies.isEmpty() || !trusted(peer, trustedProxies) || untrustedForwardedFor == null) return peer;
    String[] hops = untrustedForwardedFor.split(",", MAX_HOPS + 1);
    InetAddress current = peer;
    for (int i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
      InetAddress hop;
      try {
        hop = InetAddress.ofLiteral(hops[i].strip());
      } catch (IllegalArgumentException e) {
        return current;
      }
      if (!trusted(hop, trustedProxies)) return hop;
      current = hop;
    }
    return current;
  }

  private static boolean trusted(InetAddress a, List<Cidr> proxies) {
    for (Cidr c : proxies) if (c.contains(a)) return true;
    return false;
  }
}
