package dev.m2mfa.agent.keys;

import dev.m2mfa.api.SecretBytes;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A sealed identity key: locked until an operator gives the passphrase or k of n shares,
 * optionally re-locking {@code relockAfter} after each unlock (measured on the injected
 * clock, checked at every signature). While locked, {@link #sign} throws
 * {@link KeyLockedException}; the public key stays available.
 *
 * <p>Shares may come one at a time from different operators ({@link #offerShare}); they are
 * held in memory only until k distinct ones are there, then combined and dropped. A failed
 * combination drops all pending shares. The unlocked key is held in this process only and
 * never written anywhere; unlock secrets and decrypted PKCS#8 bytes are zeroed after use (the
 * JDK's key object itself cannot be zeroed: Java allows no more).
 */
public final class SealedKey implements MachineSigner {
  private final Path stateDir;
  private final SealedKeyFile sealed;
  private final PublicKey publicKey;
  private final Clock clock;
  private final Duration relockAfter;
  private final KeyEncryptionKeySource autoSource;
  private final List<KeyShares.Share> pending = new ArrayList<>();
  private SoftwareKey unlocked;
  private Instant unlockedAt;
  private boolean relocked;
  private String autoUnsealRefusal;

  SealedKey(Path stateDir, SealedKeyFile sealed, Clock clock, Duration relockAfter, KeyEncryptionKeySource autoSource) {
    this.stateDir = stateDir;
    this.sealed = sealed;
    this.clock = clock;
    this.relockAfter = relockAfter;
    this.autoSource = autoSource;
    try {
      this.publicKey = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(sealed.publicKey()));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("the sealed key file's public key is unreadable", e);
    }
  }

  /** How far a share-by-share unlock has come. */
  public record Progress(int have, int need, boolean unlocked) {}

  /** Unlocks with an operator passphrase (the array is not kept; the caller zeroes it). */
  public synchronized void unlockWithPassphrase(char[] passphrase) throws UnlockRefusedException {
    if (sealed.secretKind() != SealedKeyFile.KIND_PASSPHRASE) {
      throw new UnlockRefusedException("this key is sealed to " + sealed.threshold() + " of " + sealed.shareCount() + " shares, not a passphrase");
    }
    byte[] secret = SealedKeyProvider.utf8(passphrase);
    try {
      unlockWithPassphraseBytes(secret);
    } finally {
      Arrays.fill(secret, (byte) 0);
    }
  }

  synchronized void unlockWithPassphraseBytes(byte[] secret) throws UnlockRefusedException {
    unlockWith(secret, "the passphrase", true);
  }

  /** The key generate() has just sealed with {@code secret}: unlocked from the start, as after an operator unlock. */
  synchronized void startUnlocked(SoftwareKey key, byte[] secret) {
    if (!java.util.Arrays.equals(key.publicKey().getEncoded(), sealed.publicKey())) throw new IllegalStateException("sealed file and key differ");
    unlocked = key;
    unlockedAt = clock.instant();
    if (autoSource != null) {
      try {
        autoSource.remember(stateDir, SecretBytes.copyOf(secret));
      } catch (java.io.IOException e) {
        // auto-unseal stays unavailable until the next operator unlock
      }
    }
  }

  /** Adds one operator's share; unlocks once k distinct shares of this seal are in. */
  public synchronized Progress offerShare(String share) throws UnlockRefusedException {
    if (sealed.secretKind() != SealedKeyFile.KIND_SHARES) throw new UnlockRefusedException("this key is sealed to a passphrase, not to shares");
    if (unlocked != null) return new Progress(sealed.threshold(), sealed.threshold(), true);
    KeyShares.Share s;
    try {
      s = KeyShares.parse(share);
    } catch (IllegalArgumentException e) {
      throw new UnlockRefusedException(e.getMessage());
    }
    if (!s.sealId().equals(KeyShares.sealId(sealed.salt()))) {
      throw new UnlockRefusedException("share " + s.index() + " belongs to another seal (id " + s.sealId() + "), not this key's");
    }
    if (s.threshold() != sealed.threshold() || s.count() != sealed.shareCount()) {
      throw new UnlockRefusedException("share " + s.index() + " is from a " + s.threshold() + "-of-" + s.count() + " seal; this key needs "
          + sealed.threshold() + " of " + sealed.shareCount());
    }
    if (pending.stream().noneMatch(p -> p.index() == s.index())) pending.add(s);
    if (pending.size() < sealed.threshold()) return new Progress(pending.size(), sealed.threshold(), false);
    byte[] secret = KeyShares.combine(pending);
    clearPending();
    try {
      unlockWith(secret, "these " + sealed.threshold() + " shares", true);
    } finally {
      Arrays.fill(secret, (byte) 0);
    }
    return new Progress(sealed.threshold(), sealed.threshold(), true);
  }

  /** Offers each share in turn; refuses if fewer than k distinct shares were given. */
  public synchronized void unlockWithShares(List<String> shares) throws UnlockRefusedException {
    Progress p = new Progress(0, sealed.threshold(), false);
    for (String s : shares) p = offerShare(s);
    if (!p.unlocked()) {
      int have = p.have();
      clearPending();
      throw new UnlockRefusedException(sealed.threshold() + " distinct shares are needed to unlock this key, " + have + " given");
    }
  }

  /** Tries the unattended source (TPM auto-unseal); true if the key is now unlocked. */
  synchronized boolean tryAutoUnseal() {
    if (autoSource == null) return false;
    try {
      autoUnsealRefusal = null;
      Optional<SecretBytes> s = autoSource.recall(stateDir);
      if (s.isEmpty()) return false;
      byte[] secret = s.get().revealForUse();
      s.get().destroy();
      try {
        unlockWith(secret, "the " + autoSource.name() + " source's secret", false);
        return true;
      } finally {
        Arrays.fill(secret, (byte) 0);
      }
    } catch (java.io.IOException e) {
      autoUnsealRefusal = "auto-unseal (" + autoSource.name() + ") refused: " + e.getMessage();
      return false; // stays locked: an operator unlocks
    }
  }

  private void unlockWith(byte[] secret, String what, boolean byOperator) throws UnlockRefusedException {
    byte[] pkcs8 = sealed.open(secret, what);
    try {
      PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
      PublicKey derived = SoftwareKey.publicOf((ECPrivateKey) key);
      if (!Arrays.equals(derived.getEncoded(), sealed.publicKey())) throw new UnlockRefusedException("the sealed key does not match its recorded public key");
      unlocked = new SoftwareKey(key, publicKey);
      unlockedAt = clock.instant();
      relocked = false;
    } catch (java.security.GeneralSecurityException e) {
      throw new UnlockRefusedException("the sealed key's content is not a P-256 key");
    } finally {
      Arrays.fill(pkcs8, (byte) 0);
    }
    if (byOperator && autoSource != null) {
      try {
        autoSource.remember(stateDir, SecretBytes.copyOf(secret));
      } catch (java.io.IOException e) {
        // auto-unseal stays unavailable; the key is unlocked anyway
      }
    }
  }

  public synchronized void lock() {
    unlocked = null;
    unlockedAt = null;
    clearPending();
  }

  /** True while no operator has unlocked the key, or after it re-locked. */
  public synchronized boolean locked() {
    expireIfDue();
    return unlocked == null;
  }

  /**
   * Why the unattended source did not unlock the key at open (for example the TPM's "boot
   * state changed" sentence), or empty when it did, had nothing kept, or none is configured.
   * The message names no secret.
   */
  public synchronized Optional<String> autoUnsealRefusal() {
    return unlocked == null ? Optional.ofNullable(autoUnsealRefusal) : Optional.empty();
  }

  /** {@code 0} for a passphrase seal, else k of the k-of-n shares. */
  public int sharesNeeded() {
    return sealed.secretKind() == SealedKeyFile.KIND_SHARES ? sealed.threshold() : 0;
  }

  private void expireIfDue() {
    if (unlocked != null && relockAfter != null && !clock.instant().isBefore(unlockedAt.plus(relockAfter))) {
      unlocked = null;
      unlockedAt = null;
      relocked = true;
    }
  }

  private void clearPending() {
    for (KeyShares.Share s : pending) Arrays.fill(s.value(), (byte) 0);
    pending.clear();
  }

  @Override
  public synchronized byte[] sign(byte[] data) {
    expireIfDue();
    if (unlocked == null) {
      throw new KeyLockedException(relocked
          ? "the sealed identity key re-locked " + relockAfter.toSeconds() + " s after its last unlock: an operator must unlock it again (m2mfa agent unlock)"
          : "the sealed identity key is locked: an operator must unlock it (m2mfa agent unlock)"
              + (autoUnsealRefusal == null ? "" : "; " + autoUnsealRefusal));
    }
    return unlocked.sign(data);
  }

  /** The decrypted key, for re-sealing only (package-private: never leaves this package). */
  synchronized SoftwareKey unlockedKey() {
    expireIfDue();
    if (unlocked == null) throw new KeyLockedException("the sealed identity key is locked");
    return unlocked;
  }

  SealedKeyFile file() {
    return sealed;
  }

  @Override
  public PublicKey publicKey() {
    return publicKey;
  }

  @Override
  public String provider() {
    return "sealed";
  }

  @Override
  public synchronized String toString() {
    return "SealedKey[P-256, " + (unlocked == null ? "locked" : "unlocked") + ", private key redacted]";
  }
}
