"""The export targets: name -> (module, one-line description). The one registry the CLI and kerasless.export read;
a module here is imported only when exporting (``kerasless --help`` stays fast)."""

TARGETS = {
    "c": ("kerasless.export.c.target", "C99: <name>.c + <name>.h, CMakeLists.txt (Android NDK, embedded)"),
    "numpy": ("kerasless.export.numpy.target", "one readable NumPy script + an .npz"),
    "js": ("kerasless.export.js.target", "a dependency-free ES module (Node >= 18, browsers) + .d.ts, package.json"),
    "java": ("kerasless.export.java.target", "<Name>.java, Java 8 source level (Android, any JVM)"),
    "web": ("kerasless.export.web.target", "a self-contained index.html"),
    "swift": ("kerasless.export.swift.target", "a SwiftPM package over the C export (iOS, macOS)"),
}
