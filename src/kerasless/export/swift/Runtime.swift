// kerasless Swift runtime: the calling convention of the C export (status codes, flat float32 buffers, the stream
// state) wrapped once for every generated <Name>.swift. The swift target copies this file unchanged into
// Sources/<Name>/KeraslessRuntime.swift; the numerics are the C target's (Sources/C<Name>/). Foundation-free and
// platform-neutral (iOS, macOS, Linux); lint on its own with:  swiftc -parse-as-library -typecheck Runtime.swift

/// What a generated model's `predict` / `Stream.step` / `loadWeights` throw (the C status codes).
public enum KeraslessError: Error, Equatable {
    /// A size or batch the model does not accept (the message says which), or KL_ERR_ARGS from the C core.
    case invalidArgument(String)
    /// A token id that is not a number in [0, vocabulary) (KL_ERR_TOKEN).
    case invalidToken
    /// A weights-file build whose `loadWeights` has not succeeded (KL_ERR_WEIGHTS).
    case weightsNotLoaded
    /// Any other non-zero status.
    case status(Int32)

    static func check(_ rc: Int32) throws {
        switch rc {
        case 0: return
        case 1: throw KeraslessError.invalidArgument("rejected by the model (batch size or a NULL buffer)")
        case 2: throw KeraslessError.invalidToken
        case 3: throw KeraslessError.weightsNotLoaded
        default: throw KeraslessError.status(rc)
        }
    }
}

/// `<name>_predict_ws` of the C core.
typealias KLPredictFunction = (UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, UnsafeMutableRawPointer?)
    -> Int32

/// y (batch * outputSize floats) = model(x (batch * inputSize floats)), with a workspace owned by this call.
func klPredict(_ x: [Float], batch: Int, inputSize: Int, outputSize: Int, fixedBatch: Int?,
               workspaceSize: (Int32) -> Int, predict: KLPredictFunction) throws -> [Float] {
    guard batch > 0, batch <= Int(Int32.max) else {
        throw KeraslessError.invalidArgument("batch must be in 1...\(Int32.max), got \(batch)")
    }
    if let fixed = fixedBatch, batch != fixed {
        throw KeraslessError.invalidArgument("stateful model: batch must be \(fixed), got \(batch)")
    }
    guard x.count == batch * inputSize else {
        throw KeraslessError.invalidArgument("expected \(batch) * \(inputSize) floats, got \(x.count)")
    }
    var y = [Float](repeating: 0, count: batch * outputSize)
    var workspace = [Float](repeating: 0, count: workspaceSize(Int32(batch)) / 4 + 1)
    let rc = x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            workspace.withUnsafeMutableBytes { wp in predict(xp.baseAddress, Int32(batch), yp.baseAddress, wp.baseAddress) }
        }
    }
    try KeraslessError.check(rc)
    return y
}

/// One stream of a C `<name>_state`: one timestep of one sample per `step`, no allocation after `init`.
final class KLStream<State> {
    typealias Step = (UnsafeMutablePointer<State>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Int32
    typealias Reset = (UnsafeMutablePointer<State>?) -> Void

    private let state = UnsafeMutablePointer<State>.allocate(capacity: 1)
    private let stepFunction: Step
    private let resetFunction: Reset
    private var output: [Float]
    let inputSize: Int

    init(inputSize: Int, outputSize: Int, step: @escaping Step, reset: @escaping Reset) {
        self.inputSize = inputSize
        self.output = [Float](repeating: 0, count: outputSize)
        self.stepFunction = step
        self.resetFunction = reset
        reset(state)
    }

    deinit {
        state.deallocate()
    }

    func step(_ x: [Float]) throws -> [Float] {
        guard x.count == inputSize else {
            throw KeraslessError.invalidArgument("step: expected \(inputSize) floats, got \(x.count)")
        }
        let state = self.state, stepFunction = self.stepFunction
        let rc = x.withUnsafeBufferPointer { xp in
            output.withUnsafeMutableBufferPointer { yp in stepFunction(state, xp.baseAddress, yp.baseAddress) }
        }
        try KeraslessError.check(rc)
        return output
    }

    func reset() {
        resetFunction(state)
    }
}
