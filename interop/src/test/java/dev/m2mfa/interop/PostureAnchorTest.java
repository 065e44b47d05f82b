package dev.m2mfa.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.agent.Agent;
import dev.m2mfa.agent.keys.tpm.TpmAttestor;
import dev.m2mfa.agent.keys.tpm.TpmEnrollment;
import dev.m2mfa.agent.keys.tpm.TpmTools;
import dev.m2mfa.agent.posture.PostureCollector;
import dev.m2mfa.agent.posture.PostureConfig;
import dev.m2mfa.agent.posture.ScanProgress;
import dev.m2mfa.agent.posture.TpmPostureAnchor;
import dev.m2mfa.api.posture.ReportChain;
import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.enroll.tpm.TpmEnrollmentService;
import dev.m2mfa.authority.factor.posture.PostureFactorVerifier;
import dev.m2mfa.testkit.Swtpm;
import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TPM-anchored posture end to end: a real authority whose class {@code posture} requires
 * key, network and posture; machines enrolled with their TPM (swtpm) so the authority records
 * their AK; agents with {@code posture.anchor=tpm} that extend PCR 16 and quote it with every
 * login. Each test uses its own TPM (the PCR is per TPM).
 */
class PostureAnchorTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();
  @TempDir static Path tmp;
  static Authority authority;

  @BeforeAll
  static void start() throws Exception {
    Swtpm.requireTools();
    Path dir = tmp.resolve("authority");
    AuthorityConfig d = AuthorityConfig.defaults();
    AuthorityConfig cfg = new AuthorityConfig(d.trustDomain(), d.listenHost(), d.listenPort(), d.tokenLifetime(), d.certificateLifetime(),
        d.heartbeatInterval(), d.signingKeyRotation(), d.trustedProxies(),
        Map.of("default", List.of("key", "network"), "posture", List.of("key", "network", "posture")));
    Authority.init(dir, cfg, PASSPHRASE, "ops");
    authority = Authority.open(dir, PASSPHRASE, c -> c.withListen("127.0.0.1", 0).withHeartbeat(Duration.ofMillis(200)));
    authority.start();
  }

  @AfterAll
  static void stop() {
    if (authority != null) authority.close();
  }

  /** A TPM-enrolled machine in class {@code posture}, measuring {@code root}/usr/sbin, anchored in PCR 16. */
  record Machine(String name, Path dir, Path sbin, Swtpm tpm, Agent agent) {}

  static Machine enroll(String name) throws Exception {
    Swtpm tpm = Swtpm.start(tmp.resolve(name + "-tpm"), tmp.resolve("ek-ca"));
    Path root = tmp.resolve(name + "-root");
    Path sbin = Files.createDirectories(root.resolve("usr/sbin"));
    Files.writeString(sbin.resolve("sshd"), "#!/bin/sh\n# the machine's real sshd\n");
    Files.writeString(sbin.resolve("cron"), "#!/bin/sh\n");
    Path dir = tmp.resolve(name);
    String token = authority.enrollment().createJoinToken(name, "posture", List.of("127.0.0.1/32"), Duration.ofMinutes(5), "test").token();
    TpmEnrollment.enroll(dir, "127.0.0.1", authority.port(), authority.ca().root(), token, TpmTools.of(tpm.tcti()), 0x81000400,
        InetAddress.ofLiteral("127.0.0.1"));
    Files.writeString(dir.resolve("agent.conf"), "posture.anchor=tpm\nposture.roots=" + sbin.toRealPath() + "\nposture.processes=none\n"
        + "posture.listeners=none\nposture.packages=false\nposture.os=true\n", StandardOpenOption.APPEND);
    return new Machine(name, dir, sbin, tpm, TpmEnrollment.open(dir, null));
  }

  static JsonNode postureState(String machine) throws IOException {
    return JSON.readTree(authority.store().factorStates().get(machine, PostureFactorVerifier.STATE).orElseThrow());
  }

  static byte[] pcr16(Swtpm tpm) throws IOException {
    return TpmTools.of(tpm.tcti()).pcrRead(16);
  }

  /** The posture reason of the last denied login in the audit log. */
  static String lastPostureDenial() {
    String[] reason = {"(none)"};
    authority.store().audit().scan(1, r -> {
      if (!r.event().equals("login.denied")) return;
      try {
        for (JsonNode f : JSON.readTree(r.detail()).path("factors")) {
          if (f.path("factor").asText().equals("posture") && !f.path("status").asText().equals("PASS")) reason[0] = f.path("reason").asText();
        }
      } catch (IOException ignored) {
        // keep the previous reason
      }
    });
    return reason[0];
  }

  @Test
  void anAnchoredLoginPassesAndTheAuthorityKeepsTheChainTheTpmQuoted() throws Exception {
    Machine m = enroll("anchored");
    try {
      // enrollment recorded the AK for the machine, and the agent kept it
      JsonNode ak = JSON.readTree(authority.store().factorStates().get(m.name(), TpmEnrollmentService.AK_STATE).orElseThrow());
      assertThat(ak.path("ak_public").asText()).isNotEmpty();
      assertThat(Files.readString(m.dir().resolve("agent.conf"))).containsPattern("tpm_ak_handle=0x810180[0-9a-f]{2}");

      Agent.Credential first = m.agent().login("inventory");
      assertThat(first.amr()).contains("key", "network", "posture");
      JsonNode state = postureState(m.name());
      assertThat(state.path("anchor_log")).hasSize(1);
      assertThat(state.path("anchor_log").get(0).asText()).isEqualTo(state.path("last_digest").asText());
      assertThat(pcr16(m.tpm())).isEqualTo(ReportChain.replay(List.of(HexFormat.of().parseHex(state.path("last_digest").asText()))));

      // an unchanged machine: a fresh quote, no new extension
      assertThat(m.agent().login("inventory").amr()).contains("posture");
      assertThat(postureState(m.name()).path("anchor_log")).hasSize(1);

      // an updated cron is a finding: shown, judged, refused; it stays in the chain
      Files.writeString(m.sbin().resolve("cron"), "#!/bin/sh\n# patched\n");
      assertThatThrownBy(() -> m.agent().login("inventory")).isInstanceOf(Agent.RefusedException.class);
      assertThat(lastPostureDenial()).contains("cron: sha256 changed");
      // cron is put back: the judged report may stand in the chain, the clean one passes
      Files.writeString(m.sbin().resolve("cron"), "#!/bin/sh\n");
      assertThat(m.agent().login("inventory").amr()).contains("posture");
      assertThat(postureState(m.name()).path("anchor_log")).hasSize(3);
    } finally {
      m.tpm().close();
    }
  }

  @Test
  void aReportExtendedAndThenWithheldKeepsTheMachineOut() throws Exception {
    Machine m = enroll("withheld");
    try {
      assertThat(m.agent().login("inventory").amr()).contains("posture");
      String accepted = postureState(m.name()).path("last_digest").asText();

      // sshd is replaced; the agent measures it and extends the report into the PCR...
      Files.writeString(m.sbin().resolve("sshd"), "#!/bin/sh\n# trojaned\n");
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(m.dir().resolve("agent.conf"))) {
        p.load(r);
      }
      byte[] compromised = new PostureCollector(PostureConfig.from(p), tmp.resolve("withheld-cache.bin"), Clock.systemUTC())
          .collect(false, ScanProgress.NONE).digest();
      TpmPostureAnchor anchor = new TpmPostureAnchor();
      anchor.attach(m.dir());
      anchor.anchor(compromised, "a login that never reached the authority".getBytes(StandardCharsets.US_ASCII));
      // ...then, subverted, withholds it, puts the file back and logs in with the clean report
      Files.writeString(m.sbin().resolve("sshd"), "#!/bin/sh\n# the machine's real sshd\n");
      assertThatThrownBy(() -> m.agent().login("inventory")).isInstanceOf(Agent.RefusedException.class)
          .satisfies(e -> assertThat(((Agent.RefusedException) e).status()).isEqualTo(401));
      assertThat(lastPostureDenial()).contains("extended but never shown to the authority (withheld)");
      // nothing was accepted in between
      assertThat(postureState(m.name()).path("last_digest").asText()).isEqualTo(accepted);
      assertThat(postureState(m.name()).path("anchor_log")).hasSize(1);
    } finally {
      m.tpm().close();
    }
  }

  @Test
  void aQuoteByAnAttestationKeyOtherThanTheEnrolledOneIsRefused() throws Exception {
    Machine m = enroll("other-ak");
    try {
      // the agent's AK is replaced by another AK of the same TPM: genuine quotes, wrong key
      int otherAk;
      try (TpmAttestor other = TpmAttestor.begin(TpmTools.of(m.tpm().tcti()))) {
        otherAk = other.persistAk();
      }
      String conf = Files.readString(m.dir().resolve("agent.conf"));
      Files.writeString(m.dir().resolve("agent.conf"), conf.replaceAll("tpm_ak_handle=\\S+", "tpm_ak_handle=" + String.format("0x%08x", otherAk)));
      Agent subverted = TpmEnrollment.open(m.dir(), null);
      assertThatThrownBy(() -> subverted.login("inventory")).isInstanceOf(Agent.RefusedException.class);
      assertThat(lastPostureDenial()).contains("TPM quote does not hold: quote is not signed by this machine's attestation key");
      assertThat(authority.store().factorStates().get(m.name(), PostureFactorVerifier.STATE)).isEmpty();
    } finally {
      m.tpm().close();
    }
  }

  @Test
  void afterARebootAnchoredLoginsGoOnWithANewChain() throws Exception {
    Machine m = enroll("rebooted");
    Swtpm restarted = null;
    try {
      assertThat(m.agent().login("inventory").amr()).contains("posture");
      long resetBefore = postureState(m.name()).path("reset_count").asLong();
      restarted = m.tpm().restart();
      // the machine comes back with the same TPM (the swtpm port changes; a real TPM's device does not)
      String conf = Files.readString(m.dir().resolve("agent.conf"));
      Files.writeString(m.dir().resolve("agent.conf"), conf.replaceAll("key\\.tcti=\\S+",
          "key.tcti=" + restarted.tcti().replace(":", "\\\\:").replace("=", "\\\\=")));
      Agent rebooted = TpmEnrollment.open(m.dir(), null);
      assertThat(rebooted.login("inventory").amr()).contains("key", "posture");
      JsonNode state = postureState(m.name());
      assertThat(state.path("reset_count").asLong()).isGreaterThan(resetBefore);
      assertThat(state.path("anchor_log")).hasSize(1);
    } finally {
      (restarted != null ? restarted : m.tpm()).close();
    }
  }
}
