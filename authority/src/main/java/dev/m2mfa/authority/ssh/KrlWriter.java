package dev.m2mfa.authority.ssh;

import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.apache.sshd.common.util.buffer.ByteArrayBuffer;

/**
 * Encodes an OpenSSH key revocation list (OpenSSH {@code PROTOCOL.krl}, format version 1) that
 * revokes certificates by serial number, per signing CA.
 *
 * <p>Why hand-written: Apache MINA SSHD 2.20.1 builds and parses certificates but has no KRL
 * reader or writer, and BouncyCastle has none either; running {@code ssh-keygen -k} in the
 * authority would make a server depend on a client tool and a temp file per revocation. The
 * part we need is small: a header and, per CA, one certificate section holding a sorted serial
 * list. The SSH wire primitives (uint32, uint64, string, public key blob) come from MINA's
 * {@link ByteArrayBuffer}, so only the layout is ours. The tests check every output with
 * {@code ssh-keygen -Q -f krl cert.pub} and sshd's {@code RevokedKeys}.
 *
 * <p>Layout written: {@code "SSHKRL\n\0"}, uint32 1, uint64 krl_version, uint64
 * generated_date, uint64 flags (0), string reserved (empty), string comment; then for each CA
 * with serials: byte 1 (KRL_SECTION_CERTIFICATES), string { string ca_key, string reserved,
 * byte 0x20 (KRL_SECTION_CERT_SERIAL_LIST), string { uint64 serial ... ascending } }. No
 * signature section: the KRL is fetched over the authority's authenticated TLS.
 */
public final class KrlWriter {
  private static final byte[] MAGIC = "SSHKRL\n\0".getBytes(StandardCharsets.US_ASCII);
  private static final int FORMAT_VERSION = 1;
  private static final byte SECTION_CERTIFICATES = 1;
  private static final byte CERT_SERIAL_LIST = 0x20;

  private final Map<PublicKey, TreeSet<Long>> serialsByCa = new LinkedHashMap<>();

  /** Revokes {@code serials} (non-zero, compared unsigned as OpenSSH does) signed by {@code ca}. */
  public KrlWriter revoke(PublicKey ca, Collection<Long> serials) {
    TreeSet<Long> set = serialsByCa.computeIfAbsent(ca, k -> new TreeSet<>(Long::compareUnsigned));
    for (long s : serials) {
      if (s == 0) throw new IllegalArgumentException("serial 0 cannot be revoked by serial");
      set.add(s);
    }
    return this;
  }

  public byte[] encode(long krlVersion, Instant generated, String comment) {
    ByteArrayBuffer out = new ByteArrayBuffer();
    out.putRawBytes(MAGIC);
    out.putInt(FORMAT_VERSION);
    out.putLong(krlVersion);
    out.putLong(generated.getEpochSecond());
    out.putLong(0);
    out.putString("");
    out.putString(comment);
    for (var e : serialsByCa.entrySet()) {
      if (e.getValue().isEmpty()) continue;
      ByteArrayBuffer serials = new ByteArrayBuffer();
      for (long s : e.getValue()) serials.putLong(s);
      ByteArrayBuffer section = new ByteArrayBuffer();
      section.putPublicKey(e.getKey());
      section.putString("");
      section.putByte(CERT_SERIAL_LIST);
      section.putBytes(serials.getCompactData());
      out.putByte(SECTION_CERTIFICATES);
      out.putBytes(section.getCompactData());
    }
    return out.getCompactData();
  }
}
