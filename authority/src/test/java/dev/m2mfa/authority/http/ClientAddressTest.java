package dev.m2mfa.authority.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.Cidr;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClientAddressTest {
  static final List<Cidr> PROXIES = List.of(Cidr.parse("10.0.0.0/24"), Cidr.parse("fd00::/64"));

  static InetAddress ip(String s) {
    return InetAddress.ofLiteral(s);
  }

  @Test
  void untrustedPeerHeadersAreIgnored() {
    assertThat(ClientAddress.resolve(ip("192.0.2.7"), "198.51.100.1", PROXIES)).isEqualTo(ip("192.0.2.7"));
  }

  @Test
  void noProxiesConfiguredMeansThePeerCounts() {
    assertThat(ClientAddress.resolve(ip("10.0.0.5"), "198.51.100.1", List.of())).isEqualTo(ip("10.0.0.5"));
  }

  @Test
  void trustedProxyChainIsWalkedFromTheRight() {
    assertThat(ClientAddress.resolve(ip("10.0.0.5"), "203.0.113.9, 198.51.100.1, 10.0.0.6", PROXIES)).isEqualTo(ip("198.51.100.1"));
  }

  @Test
  void spoofedLeftmostEntryDoesNotWin() {
    // a client behind the proxy prepends a fake address; the proxy appends the real one
    assertThat(ClientAddress.resolve(ip("10.0.0.5"), "10.1.2.3, 198.51.100.77", PROXIES)).isEqualTo(ip("198.51.100.77"));
  }

  @Test
  void garbageHopStopsAtTheLastTrustedProxy() {
    assertThat(ClientAddress.resolve(ip("10.0.0.5"), "198.51.100.1, evil.example", PROXIES)).isEqualTo(ip("10.0.0.5"));
    assertThat(ClientAddress.resolve(ip("10.0.0.5"), "", PROXIES)).isEqualTo(ip("10.0.0.5"));
  }

  @Test
  void ipv6ProxiesWork() {
    assertThat(ClientAddress.resolve(ip("fd00::1"), "2001:db8::42", PROXIES)).isEqualTo(ip("2001:db8::42"));
  }
}
