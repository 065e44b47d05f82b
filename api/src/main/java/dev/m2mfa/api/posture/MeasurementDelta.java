package dev.m2mfa.api.posture;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The changes from one accepted report (the base, named by its digest) to the next: entries
 * added or changed ({@code upserts}) and entries gone ({@code removals}, value ignored).
 *
 * <p>Encoding: magic {@code M2PD1}, the 32-byte base digest, a u32 upsert count and the
 * upserts as in {@link MeasurementList}, a u32 removal count and the removals as (kind, key)
 * field pairs; both lists in canonical order without duplicates. {@link #apply} refuses a
 * delta whose base is not the given list, an upsert that changes nothing, a removal of an
 * absent entry, and an entry both upserted and removed; so a delta has exactly one meaning.
 */
public record MeasurementDelta(byte[] baseDigest, List<Measurement> upserts, List<Measurement> removals) {
  static final byte[] MAGIC = {'M', '2', 'P', 'D', '1'};
  /** A delta bigger than this is refused; the agent sends a full report instead. */
  public static final int MAX_CHANGES = 20_000;

  public MeasurementDelta {
    baseDigest = baseDigest.clone();
    if (baseDigest.length != 32) throw new InvalidReportException("base digest must be 32 bytes");
    upserts = sortedUnique(upserts, "upsert");
    removals = sortedUnique(removals, "removal");
    if (upserts.size() + removals.size() > MAX_CHANGES) throw new InvalidReportException("delta has more than " + MAX_CHANGES + " changes");
  }

  @Override
  public byte[] baseDigest() {
    return baseDigest.clone();
  }

  /** The changes that turn {@code base} into {@code next}. */
  public static MeasurementDelta between(MeasurementList base, MeasurementList next) {
    List<Measurement> up = new ArrayList<>();
    List<Measurement> rm = new ArrayList<>();
    for (Measurement m : next.entries()) {
      Measurement old = base.get(m.kind(), m.key());
      if (old == null || !old.value().equals(m.value())) up.add(m);
    }
    for (Measurement m : base.entries()) {
      if (next.get(m.kind(), m.key()) == null) rm.add(new Measurement(m.kind(), m.key(), ""));
    }
    return new MeasurementDelta(base.digest(), up, rm);
  }

  public int changes() {
    return upserts.size() + removals.size();
  }

  public MeasurementList apply(MeasurementList base) {
    if (!MessageDigest.isEqual(base.digest(), baseDigest)) throw new InvalidReportException("delta is against another report than the last accepted one");
    Map<String, Measurement> result = new HashMap<>();
    for (Measurement m : base.entries()) result.put(m.id(), m);
    java.util.Set<String> upserted = new java.util.HashSet<>();
    for (Measurement m : upserts) {
      Measurement old = result.put(m.id(), m);
      if (old != null && old.value().equals(m.value())) throw new InvalidReportException("delta repeats an unchanged entry: " + m.id());
      upserted.add(m.id());
    }
    for (Measurement m : removals) {
      if (upserted.contains(m.id())) throw new InvalidReportException("delta both changes and removes " + m.id());
      if (result.remove(m.id()) == null) throw new InvalidReportException("delta removes an absent entry: " + m.id());
    }
    return MeasurementList.of(result.values());
  }

  public byte[] encode() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.write(MAGIC);
      out.write(baseDigest);
      out.writeInt(upserts.size());
      for (Measurement m : upserts) MeasurementList.writeEntry(out, m);
      out.writeInt(removals.size());
      for (Measurement m : removals) {
        MeasurementList.writeField(out, m.kind().wire());
        MeasurementList.writeField(out, m.key());
      }
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static MeasurementDelta decode(byte[] bytes) {
    if (bytes.length > MeasurementList.MAX_ENCODED_BYTES) throw new InvalidReportException("delta too large");
    MeasurementList.Reader r = new MeasurementList.Reader(bytes);
    r.expectMagic(MAGIC);
    byte[] base = r.raw(32);
    int nUp = r.count("changes");
    if (nUp > MAX_CHANGES) throw new InvalidReportException("delta has more than " + MAX_CHANGES + " changes");
    List<Measurement> up = new ArrayList<>();
    for (int i = 0; i < nUp; i++) {
      Measurement m = r.entry();
      checkOrder(up, m, "change");
      up.add(m);
    }
    int nRm = r.count("removals");
    if (nUp + nRm > MAX_CHANGES) throw new InvalidReportException("delta has more than " + MAX_CHANGES + " changes");
    List<Measurement> rm = new ArrayList<>();
    for (int i = 0; i < nRm; i++) {
      String kind = r.field();
      String key = r.field();
      Measurement m;
      try {
        m = new Measurement(Measurement.Kind.ofWire(kind), key, "");
      } catch (IllegalArgumentException e) {
        throw new InvalidReportException("invalid removal: " + e.getMessage());
      }
      checkOrder(rm, m, "removal");
      rm.add(m);
    }
    r.expectEnd();
    return new MeasurementDelta(base, up, rm);
  }

  private static void checkOrder(List<Measurement> before, Measurement m, String what) {
    if (before.isEmpty()) return;
    int c = before.getLast().compareTo(m);
    if (c == 0) throw new InvalidReportException("duplicate " + what + ": " + m.id());
    if (c > 0) throw new InvalidReportException(what + "s out of canonical order at " + m.id());
  }

  private static List<Measurement> sortedUnique(List<Measurement> in, String what) {
    List<Measurement> s = new ArrayList<>(in);
    Collections.sort(s);
    for (int i = 1; i < s.size(); i++) {
      if (s.get(i - 1).compareTo(s.get(i)) == 0) throw new InvalidReportException("duplicate " + what + ": " + s.get(i).id());
    }
    return List.copyOf(s);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MeasurementDelta d && MessageDigest.isEqual(baseDigest, d.baseDigest) && upserts.equals(d.upserts)
        && removals.equals(d.removals);
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(baseDigest) * 31 + upserts.hashCode() * 7 + removals.hashCode();
  }

  @Override
  public String toString() {
    return "MeasurementDelta[" + upserts.size() + " changed, " + removals.size() + " removed]";
  }
}
