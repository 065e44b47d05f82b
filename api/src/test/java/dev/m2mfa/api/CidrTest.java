package dev.m2mfa.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class CidrTest {
  @Test
  void containsRespectsThePrefix() {
    Cidr c = Cidr.parse("10.1.2.3/16");
    assertThat(c.toString()).isEqualTo("10.1.0.0/16");
    assertThat(c.contains(InetAddress.ofLiteral("10.1.255.1"))).isTrue();
    assertThat(c.contains(InetAddress.ofLiteral("10.2.0.1"))).isFalse();
    assertThat(c.contains(InetAddress.ofLiteral("::ffff:10.1.0.1"))).isTrue(); // the JDK maps v4-mapped literals to IPv4
    assertThat(Cidr.parse("2001:db8::/32").contains(InetAddress.ofLiteral("2001:db8:1::1"))).isTrue();
    assertThat(Cidr.parse("127.0.0.2").contains(InetAddress.ofLiteral("127.0.0.3"))).isFalse();
  }

  @Test
  void namesAreRefusedNeverResolved() {
    for (String bad : new String[] {"cafe", "dead.beef", "cafe/32", "localhost", "example.com/24", "10.0.0.0/33", "10.0.0.0/-1", "1.2.3/8", "", "10.0.0.0/x"}) {
      assertThatThrownBy(() -> Cidr.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
