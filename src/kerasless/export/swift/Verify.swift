// kerasless Swift test support: copied unchanged into Tests/<Name>Tests/KeraslessVerify.swift by the swift target.
// maxDiff compares outputs like kerasless's tests (NaN and inf positions must agree); runVerifyRequest serves
// `kerasless export --verify`: KERASLESS_VERIFY_IN holds int32 inSize, outSize, nCalls, then per call int32 batch,
// int32 mode, batch*inSize float32; KERASLESS_VERIFY_OUT gets per call int32 status (0 ok, 1 bad argument, 2 bad
// token) and the outputs, then float32 selfTest() (the C harness's format). Without the variables it does nothing.
import Foundation

func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) values vs \(b.count)")
    var worst: Float = 0
    for (u, v) in zip(a, b) {
        if u.isNaN || v.isNaN {
            if u.isNaN != v.isNaN { return .infinity }
        } else if u.isInfinite || v.isInfinite {
            if u != v { return .infinity }
        } else {
            worst = max(worst, abs(u - v))
        }
    }
    return worst
}

func runVerifyRequest(inputSize: Int, predict: ([Float], Int) throws -> [Float], selfTest: () -> Float,
                      status: (Error) -> Int32) throws {
    let env = ProcessInfo.processInfo.environment
    guard let inPath = env["KERASLESS_VERIFY_IN"], let outPath = env["KERASLESS_VERIFY_OUT"] else { return }
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: inPath)))
    var pos = 0
    func word() -> UInt32 {
        defer { pos += 4 }
        return UInt32(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pos, as: UInt32.self) })
    }
    var out: [UInt8] = []
    func put(_ bits: UInt32) { withUnsafeBytes(of: bits.littleEndian) { out.append(contentsOf: $0) } }
    let inSize = Int(Int32(bitPattern: word())), outSize = Int(Int32(bitPattern: word()))
    let calls = Int(Int32(bitPattern: word()))
    precondition(inSize == inputSize, "verify request for \(inSize) input floats, the model takes \(inputSize)")
    for _ in 0..<calls {
        let batch = Int(Int32(bitPattern: word()))
        _ = word()  // mode: predict (the Swift API has one)
        let x = (0..<batch * inSize).map { _ in Float(bitPattern: word()) }
        var y = [Float](repeating: 0, count: batch * outSize)
        var code: Int32 = 0
        do {
            y = try predict(x, batch)
        } catch {
            code = status(error)
        }
        put(UInt32(bitPattern: code))
        y.forEach { put($0.bitPattern) }
    }
    put(selfTest().bitPattern)
    try Data(out).write(to: URL(fileURLWithPath: outPath))
}
