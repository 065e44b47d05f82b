package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * Listening sockets from {@code /proc/net/tcp}, {@code tcp6} (state LISTEN) and {@code udp},
 * {@code udp6} (unconnected, bound), each mapped to the executable of the process that holds
 * it through the socket inodes in {@code /proc/PID/fd} where this user may read them
 * ({@code unknown} otherwise). Key {@code tcp/127.0.0.1:4444} or {@code tcp/[::]:22}; the
 * protocol is {@code tcp} or {@code udp} for both address families; an IPv4-mapped address on an
 * IPv6 socket (the JVM's dual-stack sockets) is shown as the IPv4 address it serves. The address fields are
 * the kernel's hex dump of the address in host byte order, four bytes at a time.
 */
public final class ListenerCollector {
  static final Path NET = Path.of("/proc/net");
  private static final int MAX_LINES = 1_000_000;

  public List<Measurement> collect(IntPredicate portIncluded) throws IOException {
    Map<Long, Integer> owners = ProcFs.socketOwners();
    Map<String, Measurement> out = new LinkedHashMap<>();
    Map<Integer, String> exeCache = new java.util.HashMap<>();
    for (String table : List.of("tcp", "tcp6", "udp", "udp6")) {
      String proto = table.startsWith("tcp") ? "tcp" : "udp";
      for (Socket s : read(NET.resolve(table), proto)) {
        if (!portIncluded.test(s.port)) continue;
        Integer pid = owners.get(s.inode);
        String exe = pid == null ? null : exeCache.computeIfAbsent(pid, ProcFs::exe);
        String owner = exe == null ? "unknown" : FileCollector.escape(exe);
        String key = proto + "/" + s.address + ":" + s.port;
        out.putIfAbsent(key, new Measurement(Measurement.Kind.LISTENER, key, owner));
      }
    }
    return new ArrayList<>(out.values());
  }

  /** One listening socket: address as text (IPv6 in brackets), port, socket inode. */
  record Socket(String address, int port, long inode) {}

  static List<Socket> read(Path table, String proto) throws IOException {
    List<Socket> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(table, StandardCharsets.US_ASCII)) {
      String line = r.readLine(); // header
      int n = 0;
      while ((line = r.readLine()) != null && n++ < MAX_LINES) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 10) continue;
        String state = f[3];
        boolean listening = proto.equals("tcp") ? state.equals("0A") : state.equals("07") && isZeroEndpoint(f[2]);
        if (!listening) continue;
        int colon = f[1].indexOf(':');
        if (colon < 0) continue;
        try {
          String addr = address(f[1].substring(0, colon));
          int port = Integer.parseInt(f[1].substring(colon + 1), 16);
          out.add(new Socket(addr, port, Long.parseLong(f[9])));
        } catch (IllegalArgumentException e) {
          // malformed line: skip
        }
      }
    } catch (NoSuchFileException e) {
      return out; // no IPv6 in this kernel, for instance
    }
    return out;
  }

  private static boolean isZeroEndpoint(String remote) {
    return remote.replace(":", "").chars().allMatch(c -> c == '0');
  }

  /** Decodes the kernel's hex address (host byte order per 32-bit word). */
  static String address(String hex) {
    if (hex.length() != 8 && hex.length() != 32) throw new IllegalArgumentException("address");
    ByteBuffer b = ByteBuffer.allocate(hex.length() / 2);
    for (int i = 0; i < hex.length(); i += 8) {
      int word = (int) Long.parseLong(hex.substring(i, i + 8), 16);
      b.order(ByteOrder.nativeOrder()).putInt(word);
    }
    try {
      byte[] a = b.array();
      if (hex.length() == 8) return InetAddress.getByAddress(a).getHostAddress();
      if (isV4Mapped(a)) return InetAddress.getByAddress(java.util.Arrays.copyOfRange(a, 12, 16)).getHostAddress();
      return "[" + compress(java.net.Inet6Address.getByAddress(null, b.array(), (java.net.NetworkInterface) null).getHostAddress()) + "]";
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("address");
    }
  }

  /** {@code ::ffff:a.b.c.d}: an IPv4 socket on a dual-stack socket (what the JVM opens); shown as IPv4. */
  private static boolean isV4Mapped(byte[] a) {
    for (int i = 0; i < 10; i++) if (a[i] != 0) return false;
    return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
  }

  /** The JDK prints IPv6 uncompressed (0:0:0:0:0:0:0:1); use the familiar short form. */
  static String compress(String full) {
    String[] g = full.split(":");
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < g.length; ) {
      if (!g[i].equals("0")) {
        i++;
        continue;
      }
      int j = i;
      while (j < g.length && g[j].equals("0")) j++;
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (bestStart < 0) return full;
    String head = String.join(":", java.util.Arrays.copyOfRange(g, 0, bestStart));
    String tail = String.join(":", java.util.Arrays.copyOfRange(g, bestStart + bestLen, g.length));
    return head + "::" + tail;
  }
}
