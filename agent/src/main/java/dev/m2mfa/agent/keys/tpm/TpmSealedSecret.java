package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A short secret (the sealed key provider's 32-byte key-encryption key) sealed to this TPM
 * under a PCR policy: the TPM releases it only while the selected PCRs hold the values they
 * had when it was sealed. An unchanged machine therefore reboots unattended; a changed boot
 * state (other firmware, bootloader, Secure Boot configuration: PCR 7 by default) makes the
 * TPM refuse, and an operator has to unlock the key by other means and seal it again.
 *
 * <p>The sealed object is a keyed-hash object under the owner storage key with fixedTPM and
 * fixedParent and without userWithAuth: its only authorization is the PolicyPCR digest. Its
 * public and encrypted private parts are kept in the given directory
 * ({@code tpm-sealed.pub}, {@code tpm-sealed.priv}, {@code tpm-sealed.pcrs}); they are
 * useless to another TPM. The secret enters {@code tpm2_create} on standard input and leaves
 * {@code tpm2_unseal} on standard output, never through a file.
 *
 * <p>Warning: PCR sealing binds to measurements, not to intentions. A legitimate firmware
 * or bootloader update changes PCRs too, and the machine then needs an operator once.
 */
public final class TpmSealedSecret {
  /** Secure Boot policy state. */
  public static final String DEFAULT_PCRS = "sha256:7";
  static final String PUBLIC_FILE = "tpm-sealed.pub";
  static final String PRIVATE_FILE = "tpm-sealed.priv";
  static final String PCRS_FILE = "tpm-sealed.pcrs";

  /** The TPM refused to unseal because the PCRs differ from those the secret was sealed to. */
  public static final class BootStateChangedException extends TpmException {
    BootStateChangedException(String pcrs) {
      super("the TPM refused to unseal: the boot state measured in PCRs " + pcrs
          + " differs from the state the key was sealed to; an operator must unlock the key and seal it again");
    }
  }

  private TpmSealedSecret() {}

  /** Seals {@code secret} (1-128 bytes) to the current values of {@code pcrs} (e.g. {@code sha256:7} or {@code sha256:0,2,7}). */
  public static void seal(TpmTools tpm, Path dir, String pcrs, byte[] secret) throws IOException {
    checkPcrs(pcrs);
    if (secret.length < 1 || secret.length > 128) throw new IllegalArgumentException("the sealed secret must be 1-128 bytes");
    Files.createDirectories(dir);
    tpm.exclusive(work -> {
      Path srk = TpmKeyProvider.createStorageKey(tpm, work);
      Path policy = work.resolve("pcr.policy");
      Path trial = work.resolve("trial.ctx");
      tpm.runOk("starting a trial policy session", "tpm2_startauthsession", "-S", trial.toString());
      try {
        tpm.runOk("computing the PCR policy", "tpm2_policypcr", "-S", trial.toString(), "-l", pcrs, "-L", policy.toString());
      } finally {
        tpm.run(null, "tpm2_flushcontext", trial.toString());
      }
      Path pub = work.resolve("sealed.pub");
      Path priv = work.resolve("sealed.priv");
      tpm.runOkWithInput("sealing to the TPM", secret, "tpm2_create", "-C", srk.toString(), "-g", "sha256",
          "-a", "fixedtpm|fixedparent|noda", "-L", policy.toString(), "-i", "-", "-u", pub.toString(), "-r", priv.toString());
      KeyFiles.writeAtomically(dir.resolve(PUBLIC_FILE), Files.readAllBytes(pub), "rw-------");
      KeyFiles.writeAtomically(dir.resolve(PRIVATE_FILE), Files.readAllBytes(priv), "rw-------");
      KeyFiles.writeAtomically(dir.resolve(PCRS_FILE), pcrs.getBytes(StandardCharsets.US_ASCII), "rw-------");
      return null;
    });
  }

  /** True when {@code dir} holds a sealed secret. */
  public static boolean exists(Path dir) {
    return Files.exists(dir.resolve(PUBLIC_FILE)) && Files.exists(dir.resolve(PRIVATE_FILE)) && Files.exists(dir.resolve(PCRS_FILE));
  }

  /**
   * Unseals the secret in {@code dir}. The caller owns the returned array and should zero it
   * after use.
   *
   * @throws BootStateChangedException when the PCRs changed since sealing
   * @throws TpmException when this TPM cannot load the sealed object (another TPM's files)
   */
  public static byte[] unseal(TpmTools tpm, Path dir) throws IOException {
    String pcrs = Files.readString(dir.resolve(PCRS_FILE), StandardCharsets.US_ASCII).strip();
    checkPcrs(pcrs);
    return tpm.exclusive(work -> {
      Path srk = TpmKeyProvider.createStorageKey(tpm, work);
      Path ctx = work.resolve("sealed.ctx");
      TpmTools.Output load = tpm.run(null, "tpm2_load", "-C", srk.toString(), "-u", dir.resolve(PUBLIC_FILE).toString(),
          "-r", dir.resolve(PRIVATE_FILE).toString(), "-c", ctx.toString());
      if (load.exitCode() != 0) {
        throw new TpmException("this TPM cannot load the sealed key-encryption key in " + dir
            + " (sealed by another TPM, or the files are damaged): " + TpmTools.errorLine(load.stderr()));
      }
      tpm.flushTransients();
      Path session = work.resolve("session.ctx");
      tpm.runOk("starting the PCR policy session", "tpm2_startauthsession", "--policy-session", "-S", session.toString());
      try {
        tpm.runOk("PolicyPCR", "tpm2_policypcr", "-S", session.toString(), "-l", pcrs);
        TpmTools.Output o = tpm.run(null, "tpm2_unseal", "-c", ctx.toString(), "-p", "session:" + session);
        if (o.exitCode() != 0) {
          Arrays.fill(o.stdout(), (byte) 0);
          if (o.stderr().contains("0x99D") || o.stderr().toLowerCase(java.util.Locale.ROOT).contains("policy check failed")) {
            throw new BootStateChangedException(pcrs);
          }
          throw new TpmException("unsealing failed: " + TpmTools.errorLine(o.stderr()));
        }
        return o.stdout();
      } finally {
        tpm.run(null, "tpm2_flushcontext", session.toString());
      }
    });
  }

  static void checkPcrs(String pcrs) {
    if (pcrs == null || !pcrs.matches("sha(1|256|384|512):([0-9]|1[0-9]|2[0-3])(,([0-9]|1[0-9]|2[0-3])){0,23}")) {
      throw new IllegalArgumentException("PCR selection must look like sha256:7 or sha256:0,2,7");
    }
  }
}
