package dev.m2mfa.agent.posture;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The seam for anchoring posture reports in a TPM (implemented by the TPM work, found through
 * {@link java.util.ServiceLoader}; without one, reports are sent unanchored).
 *
 * <p>Contract: {@link #anchor} extends {@code reportDigest} into the configured SHA-256 PCR
 * ({@code pcr' = SHA-256(pcr || reportDigest)}, see {@link dev.m2mfa.api.posture.ReportChain}),
 * appends it to the agent's local log of digests extended since boot, and returns a quote over
 * that PCR with {@code nonce} as qualifying data. The returned map goes into the evidence under
 * {@code anchor}:
 *
 * <pre>
 * {"type":"tpm2-quote", "pcr":23, "log":["hex digest", …],   // every digest extended since boot, oldest first
 *  "quote":"base64url TPMS_ATTEST", "signature":"base64url", "reset_count":N}
 * </pre>
 *
 * The authority's {@code QuoteVerifier} checks the quote and returns the quoted PCR value; the
 * posture verifier replays {@code log} against it and requires the log to start with the one
 * it accepted last for the same boot.
 */
public interface PostureAnchor {
  /** Called once with the agent's state directory before the first {@link #anchor}. */
  default void attach(Path agentDirectory) {}

  /** The anchor object for the evidence, or null when anchoring is not enabled for this agent. */
  Map<String, Object> anchor(byte[] reportDigest, byte[] nonce) throws IOException;
}
