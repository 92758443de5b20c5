"""Swift target: a SwiftPM package over the C export."""
