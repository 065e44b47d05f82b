package dev.m2mfa.api.factor;

import java.util.Map;

/**
 * The agent side of a factor, found through {@link java.util.ServiceLoader}: turns the
 * authority's challenge into evidence. The agent signs the whole transcript afterwards, so
 * a prover only produces its own part.
 */
public interface FactorProver {
  String name();

  /**
   * @param challenge what the authority's verifier for this factor issued (untrusted here too:
   *     a prover must bound what it does with it)
   * @return JSON-shaped evidence
   */
  Map<String, Object> prove(String machineName, Map<String, Object> challenge) throws Exception;
}
