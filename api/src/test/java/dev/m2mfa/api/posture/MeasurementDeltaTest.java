package dev.m2mfa.api.posture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.posture.Measurement.Kind;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MeasurementDeltaTest {
  static final String H1 = "1".repeat(64);
  static final String H2 = "2".repeat(64);

  @Test
  void deltaCarriesOnlyChangesAndRebuildsTheSameDigest() {
    List<Measurement> base = new ArrayList<>();
    for (int i = 0; i < 1000; i++) base.add(Measurement.file("/usr/lib/f" + i, H1));
    MeasurementList before = MeasurementList.of(base);
    List<Measurement> next = new ArrayList<>(base);
    next.set(10, Measurement.file("/usr/lib/f10", H2));
    next.remove(20);
    next.add(new Measurement(Kind.LISTENER, "tcp/127.0.0.1:4444", "/tmp/x"));
    MeasurementList after = MeasurementList.of(next);

    MeasurementDelta d = MeasurementDelta.between(before, after);
    assertThat(d.upserts()).hasSize(2);
    assertThat(d.removals()).extracting(Measurement::key).containsExactly("/usr/lib/f20");
    byte[] wire = d.encode();
    assertThat(wire.length).isLessThan(after.encode().length / 10);
    MeasurementList rebuilt = MeasurementDelta.decode(wire).apply(before);
    assertThat(rebuilt.digest()).isEqualTo(after.digest());
  }

  @Test
  void deltaAgainstAnotherBaseOrWithAmbiguousChangesIsRefused() {
    MeasurementList a = MeasurementList.of(List.of(Measurement.file("/a", H1)));
    MeasurementList b = MeasurementList.of(List.of(Measurement.file("/b", H1)));
    MeasurementDelta d = MeasurementDelta.between(a, b);
    assertThatThrownBy(() -> d.apply(b)).isInstanceOf(InvalidReportException.class).hasMessageContaining("another report");
    MeasurementDelta noop = new MeasurementDelta(a.digest(), List.of(Measurement.file("/a", H1)), List.of());
    assertThatThrownBy(() -> noop.apply(a)).hasMessageContaining("unchanged entry");
    MeasurementDelta absent = new MeasurementDelta(a.digest(), List.of(), List.of(Measurement.file("/zzz", "")));
    assertThatThrownBy(() -> absent.apply(a)).hasMessageContaining("absent entry");
    MeasurementDelta both = new MeasurementDelta(a.digest(), List.of(Measurement.file("/a", H2)), List.of(Measurement.file("/a", "")));
    assertThatThrownBy(() -> both.apply(a)).hasMessageContaining("both changes and removes");
    assertThatThrownBy(() -> new MeasurementDelta(a.digest(), List.of(Measurement.file("/x", H1), Measurement.file("/x", H2)), List.of()))
        .hasMessageContaining("duplicate");
  }

  @Test
  void anOversizedDeltaIsRefusedBeforeItsEntriesAreRead() throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    java.io.DataOutputStream out = new java.io.DataOutputStream(b);
    out.write("M2PD1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    out.write(new byte[32]);
    out.writeInt(MeasurementDelta.MAX_CHANGES + 1);
    assertThatThrownBy(() -> MeasurementDelta.decode(b.toByteArray())).isInstanceOf(InvalidReportException.class)
        .hasMessageContaining("more than " + MeasurementDelta.MAX_CHANGES + " changes");
  }
}
