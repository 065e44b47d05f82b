package dev.m2mfa.verifier;

/**
 * Checks names that end up inside quoted strings of a {@code WWW-Authenticate} challenge
 * (factor and acr names): visible ASCII without space, quote or backslash, at most 128 chars.
 */
final class Names {

    private Names() {
    }

    static void checkName(String what, String value) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty.");
        }
        if (value.length() > 128) {
            throw new IllegalArgumentException(what + " must be at most 128 characters long.");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
                throw new IllegalArgumentException(what + " may hold only visible ASCII characters other than"
                        + " quote and backslash: \"" + value.replaceAll("[^\\x21-\\x7e]", "?") + "\".");
            }
        }
    }
}
