package dev.m2mfa.api.posture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.posture.Measurement.Kind;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class MeasurementListTest {
  static final String H1 = "a".repeat(64);
  static final String H2 = "b".repeat(64);

  static List<Measurement> sample() {
    return List.of(Measurement.file("/usr/sbin/sshd", H1), Measurement.file("/etc/ssh/sshd_config", H2),
        new Measurement(Kind.PACKAGE, "openssh-server", "1:9.2p1-2"), new Measurement(Kind.LISTENER, "tcp/0.0.0.0:22", "/usr/sbin/sshd"),
        new Measurement(Kind.OS, "kernel", "6.1.0-18-amd64"), new Measurement(Kind.PROCESS, "/usr/sbin/sshd", H1),
        new Measurement(Kind.FILE, "/usr/share/é", H1));
  }

  @Test
  void encodingIsIndependentOfInputOrderAndRoundTrips() {
    List<Measurement> a = new ArrayList<>(sample());
    List<Measurement> b = new ArrayList<>(sample());
    Collections.reverse(b);
    MeasurementList la = MeasurementList.of(a);
    MeasurementList lb = MeasurementList.of(b);
    assertThat(la.encode()).isEqualTo(lb.encode());
    assertThat(la.digestHex()).isEqualTo(lb.digestHex()).hasSize(64);
    MeasurementList back = MeasurementList.decode(la.encode());
    assertThat(back).isEqualTo(la);
    assertThat(back.digest()).isEqualTo(la.digest());
    // sorted by kind wire name, then key bytes
    assertThat(la.entries().getFirst().key()).isEqualTo("/etc/ssh/sshd_config");
    assertThat(la.entries()).extracting(m -> m.kind().wire()).isSorted();
  }

  @Test
  void documentedLayoutOfOneEntry() throws Exception {
    MeasurementList l = MeasurementList.of(List.of(new Measurement(Kind.OS, "kernel", "6.1")));
    ByteArrayOutputStream want = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(want);
    out.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
    out.writeInt(1);
    for (String f : new String[] {"os", "kernel", "6.1"}) {
      out.writeInt(f.length());
      out.write(f.getBytes(StandardCharsets.UTF_8));
    }
    assertThat(l.encode()).isEqualTo(want.toByteArray());
  }

  @Test
  void duplicatesAreRefused() {
    assertThatThrownBy(() -> MeasurementList.of(List.of(Measurement.file("/a", H1), Measurement.file("/a", H2))))
        .isInstanceOf(InvalidReportException.class).hasMessageContaining("duplicate entry: file /a");
    byte[] two = raw(new String[][] {{"file", "/a", H1}, {"file", "/a", H1}});
    assertThatThrownBy(() -> MeasurementList.decode(two)).hasMessageContaining("duplicate entry");
  }

  @Test
  void outOfOrderIsRefused() {
    byte[] bytes = raw(new String[][] {{"file", "/b", H1}, {"file", "/a", H1}});
    assertThatThrownBy(() -> MeasurementList.decode(bytes)).isInstanceOf(InvalidReportException.class).hasMessageContaining("out of canonical order");
  }

  @Test
  void pathTraversalAndControlCharactersAreRefused() {
    for (String bad : new String[] {"/etc/../shadow", "relative/path", "/a//b", "/a/./b", "/a/"}) {
      assertThatThrownBy(() -> MeasurementList.decode(raw(new String[][] {{"file", bad, H1}}))).isInstanceOf(InvalidReportException.class)
          .hasMessageContaining("invalid entry");
    }
    assertThatThrownBy(() -> MeasurementList.decode(raw(new String[][] {{"file", "/tmp/x\nfile /usr/sbin/sshd", H1}})))
        .hasMessageContaining("control character");
    assertThatThrownBy(() -> MeasurementList.decode(raw(new String[][] {{"package", "nmap\u001b[2J", "1"}})))
        .hasMessageContaining("control character");
  }

  @Test
  void invalidUtf8IsRefused() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(b);
    out.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
    out.writeInt(1);
    writeField(out, "file".getBytes());
    writeField(out, new byte[] {'/', 'a', (byte) 0xc3, (byte) 0x28}); // bad continuation byte
    writeField(out, H1.getBytes());
    assertThatThrownBy(() -> MeasurementList.decode(b.toByteArray())).isInstanceOf(InvalidReportException.class).hasMessage("field is not valid UTF-8");
    // an overlong encoding of '/' is not UTF-8 either
    ByteArrayOutputStream b2 = new ByteArrayOutputStream();
    DataOutputStream o2 = new DataOutputStream(b2);
    o2.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
    o2.writeInt(1);
    writeField(o2, "file".getBytes());
    writeField(o2, new byte[] {'/', 'a', (byte) 0xc0, (byte) 0xaf, 'b'});
    writeField(o2, H1.getBytes());
    assertThatThrownBy(() -> MeasurementList.decode(b2.toByteArray())).hasMessage("field is not valid UTF-8");
  }

  @Test
  void oversizedInputsAreRefused() throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(b);
    out.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
    out.writeInt(MeasurementList.MAX_ENTRIES + 1);
    assertThatThrownBy(() -> MeasurementList.decode(b.toByteArray())).hasMessageContaining("too many entries");
    assertThatThrownBy(() -> MeasurementList.decode(raw(new String[][] {{"file", "/" + "a".repeat(5000), H1}})))
        .hasMessageContaining("field longer than");
    // a deflate bomb: 100 MB of zeros compresses to ~100 KB; the inflate limit stops it
    byte[] bomb = MeasurementList.deflate(new byte[20 * 1024 * 1024]);
    assertThatThrownBy(() -> MeasurementList.inflate(bomb, MeasurementList.MAX_ENCODED_BYTES)).hasMessageContaining("inflates beyond");
    assertThatThrownBy(() -> MeasurementList.decode(new byte[] {'M', '2', 'P', 'L', '1', 0, 0, 0, 0, 9})).hasMessageContaining("trailing bytes");
    assertThatThrownBy(() -> MeasurementList.decode(new byte[] {'X', '2', 'P', 'L', '1', 0, 0, 0, 0})).hasMessageContaining("bad magic");
  }

  static byte[] raw(String[][] entries) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(b);
      out.write("M2PL1".getBytes(StandardCharsets.US_ASCII));
      out.writeInt(entries.length);
      for (String[] e : entries) for (String f : e) writeField(out, f.getBytes(StandardCharsets.UTF_8));
      return b.toByteArray();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static void writeField(DataOutputStream out, byte[] b) throws Exception {
    out.writeInt(b.length);
    out.write(b);
  }
}
