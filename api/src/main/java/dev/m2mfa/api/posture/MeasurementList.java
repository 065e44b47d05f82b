package dev.m2mfa.api.posture;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;

/**
 * A posture report: a set of {@link Measurement}s in one canonical byte form, so the agent and
 * the authority hash exactly the same bytes (docs/factors/posture.md, "Canonical encoding").
 *
 * <p>Encoding: the ASCII magic {@code M2PL1} followed by a big-endian u32 entry count, then
 * each entry as three fields (kind wire name, key, value), each field a big-endian u32 byte
 * length followed by that many bytes of UTF-8. Entries are sorted by (kind, key) in unsigned
 * byte order of their UTF-8 and each (kind, key) occurs once. The digest is SHA-256 over these
 * bytes.
 *
 * <p>{@link #decode} is the only way untrusted bytes become a list, and it refuses rather than
 * repairs: wrong magic, too many entries, invalid UTF-8, control characters, non-normalized
 * paths, out-of-order or duplicate entries, trailing bytes. Each refusal is an
 * {@link InvalidReportException} with a sentence fit for an audit log.
 */
public final class MeasurementList {
  static final byte[] MAGIC = {'M', '2', 'P', 'L', '1'};
  /** Upper bound on entries in one report. */
  public static final int MAX_ENTRIES = 200_000;
  /** Upper bound on the canonical encoding of one report (also the inflate limit). */
  public static final int MAX_ENCODED_BYTES = 16 * 1024 * 1024;

  private final List<Measurement> entries;
  private final Map<String, Measurement> byId;
  private volatile byte[] encoded;

  private MeasurementList(List<Measurement> sortedUnique) {
    this.entries = Collections.unmodifiableList(sortedUnique);
    Map<String, Measurement> m = new LinkedHashMap<>();
    for (Measurement e : sortedUnique) m.put(e.id(), e);
    this.byId = Collections.unmodifiableMap(m);
  }

  /** Sorts; refuses two entries with the same (kind, key). */
  public static MeasurementList of(Collection<Measurement> measurements) {
    if (measurements.size() > MAX_ENTRIES) throw new InvalidReportException("report has more than " + MAX_ENTRIES + " entries");
    List<Measurement> sorted = new ArrayList<>(measurements);
    Collections.sort(sorted);
    for (int i = 1; i < sorted.size(); i++) {
      if (sorted.get(i - 1).compareTo(sorted.get(i)) == 0) throw new InvalidReportException("duplicate entry: " + sorted.get(i).id());
    }
    return new MeasurementList(sorted);
  }

  public static MeasurementList empty() {
    return new MeasurementList(List.of());
  }

  public List<Measurement> entries() {
    return entries;
  }

  public int size() {
    return entries.size();
  }

  /** The entry for (kind, key), or null. */
  public Measurement get(Measurement.Kind kind, String key) {
    return byId.get(kind.wire() + " " + key);
  }

  public List<Measurement> ofKind(Measurement.Kind kind) {
    return entries.stream().filter(e -> e.kind() == kind).toList();
  }

  public byte[] encode() {
    byte[] e = encoded;
    if (e == null) {
      try {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + entries.size() * 96);
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(MAGIC);
        out.writeInt(entries.size());
        for (Measurement m : entries) writeEntry(out, m);
        e = bytes.toByteArray();
      } catch (IOException x) {
        throw new UncheckedIOException(x);
      }
      encoded = e;
    }
    return e.clone();
  }

  static void writeEntry(DataOutputStream out, Measurement m) throws IOException {
    writeField(out, m.kind().wire());
    writeField(out, m.key());
    writeField(out, m.value());
  }

  static void writeField(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  /** SHA-256 of {@link #encode()}. */
  public byte[] digest() {
    return sha256(encode());
  }

  public String digestHex() {
    return HexFormat.of().formatHex(digest());
  }

  /** Parses canonical bytes strictly (see the class comment). */
  public static MeasurementList decode(byte[] bytes) {
    if (bytes.length > MAX_ENCODED_BYTES) throw new InvalidReportException("report larger than " + MAX_ENCODED_BYTES + " bytes");
    Reader r = new Reader(bytes);
    r.expectMagic(MAGIC);
    int count = r.count("entries");
    List<Measurement> list = new ArrayList<>(Math.min(count, 4096));
    Measurement previous = null;
    for (int i = 0; i < count; i++) {
      Measurement m = r.entry();
      if (previous != null) {
        int c = previous.compareTo(m);
        if (c == 0) throw new InvalidReportException("duplicate entry: " + m.id());
        if (c > 0) throw new InvalidReportException("entries out of canonical order at " + m.id());
      }
      list.add(m);
      previous = m;
    }
    r.expectEnd();
    MeasurementList out = new MeasurementList(list);
    out.encoded = bytes.clone();
    return out;
  }

  // ---- compression used on the wire (deflate, bounded inflate)

  public static byte[] deflate(byte[] data) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(data.length / 3 + 64);
    try (DeflaterOutputStream out = new DeflaterOutputStream(bytes, new Deflater(Deflater.BEST_COMPRESSION))) {
      out.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Inflates at most {@code limit} bytes; more is a refusal (a deflate bomb), not a truncation. */
  public static byte[] inflate(byte[] data, int limit) {
    Inflater inflater = new Inflater();
    try (InputStream in = new InflaterInputStream(new java.io.ByteArrayInputStream(data), inflater)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(limit, data.length * 4 + 64));
      byte[] buf = new byte[16 * 1024];
      int n;
      while ((n = in.read(buf)) > 0) {
        if (out.size() + n > limit) throw new InvalidReportException("report inflates beyond " + limit + " bytes");
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new InvalidReportException("report is not valid deflate data");
    } finally {
      inflater.end();
    }
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MeasurementList l && entries.equals(l.entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  @Override
  public String toString() {
    return "MeasurementList[" + entries.size() + " entries]";
  }

  /** A strict reader of length-prefixed fields. */
  static final class Reader {
    private final ByteBuffer buf;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    Reader(byte[] bytes) {
      this.buf = ByteBuffer.wrap(bytes);
    }

    void expectMagic(byte[] magic) {
      if (buf.remaining() < magic.length) throw new InvalidReportException("report too short");
      byte[] m = new byte[magic.length];
      buf.get(m);
      if (!java.util.Arrays.equals(m, magic)) throw new InvalidReportException("not a posture report (bad magic)");
    }

    int count(String what) {
      int n = u32();
      if (n < 0 || n > MAX_ENTRIES) throw new InvalidReportException("too many " + what + " (limit " + MAX_ENTRIES + ")");
      return n;
    }

    int u32() {
      if (buf.remaining() < 4) throw new InvalidReportException("report truncated");
      return buf.getInt();
    }

    byte[] raw(int expected) {
      if (buf.remaining() < expected) throw new InvalidReportException("report truncated");
      byte[] b = new byte[expected];
      buf.get(b);
      return b;
    }

    String field() {
      int len = u32();
      if (len < 0 || len > Measurement.MAX_FIELD_BYTES) throw new InvalidReportException("field longer than " + Measurement.MAX_FIELD_BYTES + " bytes");
      if (buf.remaining() < len) throw new InvalidReportException("report truncated");
      ByteBuffer slice = buf.slice(buf.position(), len);
      buf.position(buf.position() + len);
      try {
        CharBuffer c = utf8.reset().decode(slice);
        return c.toString();
      } catch (CharacterCodingException e) {
        throw new InvalidReportException("field is not valid UTF-8");
      }
    }

    Measurement entry() {
      String kind = field();
      String key = field();
      String value = field();
      try {
        return new Measurement(Measurement.Kind.ofWire(kind), key, value);
      } catch (IllegalArgumentException e) {
        throw new InvalidReportException("invalid entry: " + e.getMessage());
      }
    }

    void expectEnd() {
      if (buf.hasRemaining()) throw new InvalidReportException("trailing bytes after the report");
    }
  }
}
