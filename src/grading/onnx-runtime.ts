/**
 * The one import of onnxruntime-node, with ONNX Runtime's telemetry switched off.
 *
 * On Linux, creating ONNX Runtime's environment (at the first session) runs
 * regular expressions from GCC's recursive std::regex over the process's
 * command line. Each character costs several stack frames, so a command line
 * of about 30 kB (`jointspace grade` with some 700 file paths) overflows the
 * 8 MB main-thread stack and the process dies with SIGSEGV. With
 * ORT_DISABLE_TELEMETRY=1 that code path is skipped. A hospital node has no
 * use for the telemetry either. An explicit value in the environment is kept.
 */
import * as ort from 'onnxruntime-node';

process.env.ORT_DISABLE_TELEMETRY ??= '1';

export { ort };
