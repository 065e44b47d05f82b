package dev.m2mfa.api;

import java.net.InetAddress;

/** An IPv4 or IPv6 network in CIDR notation, e.g. {@code 10.1.0.0/16}. Parsing never does DNS. */
public record Cidr(byte[] network, int prefixLength) {
  public Cidr {
    network = network.clone();
    if (network.length != 4 && network.length != 16) throw new IllegalArgumentException("not an IP address");
    if (prefixLength < 0 || prefixLength > network.length * 8) throw new IllegalArgumentException("prefix length out of range");
    mask(network, prefixLength);
  }

  /** Parses {@code a.b.c.d/n}, an IPv6 literal with {@code /n}, or a bare address (a host route). */
  public static Cidr parse(String text) {
    if (text == null || text.length() > 64) throw new IllegalArgumentException("not a CIDR");
    String s = text.strip();
    int slash = s.indexOf('/');
    String addr = slash < 0 ? s : s.substring(0, slash);
    if (!addr.contains(":") && !addr.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      throw new IllegalArgumentException("not a CIDR: IPv4 addresses are written as four decimal parts");
    }
    byte[] bytes;
    try {
      bytes = InetAddress.ofLiteral(addr).getAddress(); // literals only: never a name lookup
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IllegalArgumentException("not a CIDR: only numeric addresses are accepted");
    }
    int prefix;
    try {
      prefix = slash < 0 ? bytes.length * 8 : Integer.parseInt(s.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a CIDR: bad prefix length");
    }
    return new Cidr(bytes, prefix);
  }

  public static Cidr hostOf(InetAddress address) {
    return new Cidr(address.getAddress(), address.getAddress().length * 8);
  }

  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    if (a.length != network.length) return false;
    byte[] masked = a.clone();
    mask(masked, prefixLength);
    return java.util.Arrays.equals(masked, network);
  }

  @Override
  public byte[] network() {
    return network.clone();
  }

  private static void mask(byte[] b, int prefix) {
    for (int i = 0; i < b.length; i++) {
      int bits = Math.max(0, Math.min(8, prefix - i * 8));
      b[i] &= (byte) (0xff << (8 - bits));
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Cidr c && c.prefixLength == prefixLength && java.util.Arrays.equals(c.network, network);
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(network) * 31 + prefixLength;
  }

  @Override
  public String toString() {
    try {
      return InetAddress.getByAddress(network).getHostAddress() + "/" + prefixLength;
    } catch (java.net.UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }
}
