package dev.m2mfa.api.factor;

import java.net.InetAddress;
import java.util.Map;

/**
 * What the authority knows about one login attempt, handed to each {@link FactorVerifier}.
 * Trusted values come from the authority's store and its own view of the connection;
 * everything the agent sent is named {@code untrusted…}.
 */
public interface VerificationContext {
  EnrolledMachine machine();

  /** The peer address as the authority sees it (trusted proxies already applied). */
  InetAddress sourceAddress();

  /** SHA-256 of the login transcript, computed by the authority, channel binding included. */
  byte[] transcriptDigest();

  /** The agent's signature over {@link #transcriptDigest()} (DER ECDSA), not yet checked. */
  byte[] untrustedTranscriptSignature();

  /** The challenge this factor's verifier issued for this login. */
  Map<String, Object> challenge();
}
