package dev.m2mfa.agent.factor.posture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.posture.MeasurementDelta;
import dev.m2mfa.api.posture.MeasurementList;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The prover against a real agent directory and a real tree: full report first, then only the changes. */
class PostureFactorProverTest {
  @TempDir Path agentDir;
  @TempDir Path tree;

  @Test
  void firstReportIsFullThenOnlyChangesAgainstTheAcceptedBase() throws Exception {
    Files.writeString(tree.resolve("sshd"), "binary v1");
    Files.writeString(tree.resolve("sshd_config"), "Port 22");
    Files.writeString(agentDir.resolve("agent.conf"), "posture.roots=" + tree + "\nposture.packages=false\nposture.processes=none\n"
        + "posture.listeners=none\nposture.os=true\n");
    PostureFactorProver p = new PostureFactorProver();
    p.attach(agentDir);

    String unknownBase = "0".repeat(64);
    Map<String, Object> first = p.prove("m1", Map.of("nonce", "n1", "base", unknownBase));
    assertThat(first).containsKeys("full", "digest").doesNotContainKey("delta");
    assertThat(first.get("nonce")).isEqualTo("n1");
    MeasurementList full = MeasurementList.decode(MeasurementList.inflate(Base64.getUrlDecoder().decode((String) first.get("full")), 1 << 24));
    assertThat(full.digestHex()).isEqualTo(first.get("digest"));
    assertThat(full.get(dev.m2mfa.api.posture.Measurement.Kind.FILE, tree.resolve("sshd").toString())).isNotNull();

    Files.writeString(tree.resolve("sshd"), "binary v2 (replaced)");
    Map<String, Object> second = p.prove("m1", Map.of("nonce", "n2", "base", full.digestHex()));
    assertThat(second).containsKeys("delta", "base").doesNotContainKey("full");
    MeasurementDelta d = MeasurementDelta.decode(MeasurementList.inflate(Base64.getUrlDecoder().decode((String) second.get("delta")), 1 << 24));
    assertThat(d.upserts()).extracting(m -> m.key()).containsExactly(tree.resolve("sshd").toString());
    MeasurementList rebuilt = d.apply(full);
    assertThat(rebuilt.digestHex()).isEqualTo(second.get("digest")).isNotEqualTo(first.get("digest"));
    assertThat(HexFormat.of().parseHex((String) second.get("digest"))).hasSize(32);
  }
}
