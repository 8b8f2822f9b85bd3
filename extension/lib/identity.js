// Must match shade_daemon/extension_ids.py (tests/extension/test_manifest.py checks).
export const NATIVE_HOST_NAME = "org.shade_art.host";
