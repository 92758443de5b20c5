"""The Swift package's manifest and README (the exact commands for this model; the tests run them as written)."""

from __future__ import annotations

from ..plan import Plan

MANIFEST = """// swift-tools-version:5.9
// Keras model exported by kerasless (target swift). Generated: regenerate instead of editing.
import PackageDescription

let package = Package(
    name: "{t}",
    products: [.library(name: "{t}", targets: ["{t}"])],
    targets: [
        .target(name: "C{t}", path: "Sources/C{t}", linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),
        .target(name: "{t}", dependencies: ["C{t}"], path: "Sources/{t}"),
        .testTarget(name: "{t}Tests", dependencies: ["{t}"], path: "Tests/{t}Tests"),
    ]
)
"""


def manifest(t: str) -> str:
    return MANIFEST.format(t=t)


def readme(plan: Plan, name: str, t: str, weights_file: bool, stream) -> str:
    batch = plan.fixed_batch or 2
    load = f'try {t}.loadWeights("/path/to/{name}.weights.bin")  // weights-file build: once, first\n' \
        if weights_file else ""
    streaming = ("" if isinstance(stream, str) else
                 f"let stream = {t}.Stream()           // one timestep of one sample per step, states carried\n"
                 f"let yT = try stream.step([Float](repeating: 0, count: {t}.stepInputSize))\n"
                 "stream.reset()\n")
    nostream = f"\nNo `Stream`: {stream}.\n" if isinstance(stream, str) else ""
    return f"""# {t}: Keras model `{plan.name}` as a Swift package (kerasless target swift)

A SwiftPM package: the library product `{t}` (Swift, Foundation-free) over the C target `C{t}` (the C99 export,
`Sources/C{t}/{name}.c`), and XCTests comparing its output with kerasless's. Input: float32
`(batch, {', '.join(map(str, plan.input_shape))})` C order, flattened (`{t}.inputSize` floats per sample); output
`(batch, {', '.join(map(str, plan.output_shape))})` (`{t}.outputSize` per sample).

## Build and test

```sh
swift build
swift test
```

## Use it

In Xcode (iOS, macOS): File ▸ Add Package Dependencies… ▸ Add Local… ▸ choose this folder, then add the `{t}`
library to your app target. In another package: `.package(path: "path/to/this/folder")` and the product `{t}`.

```swift
import {t}

{load}let x = [Float](repeating: 0, count: {batch} * {t}.inputSize)   // {batch} samples, C order
let y = try {t}.predict(x, batch: {batch})          // {batch} * {t}.outputSize floats; throws {t}.Error
let diff = {t}.selfTest()                         // max abs diff on the embedded test vector (~1e-7)
{streaming}```
{nostream}"""
