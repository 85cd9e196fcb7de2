import fs from "node:fs";
import { Session } from "node:inspector";

/**
 * IPC handlers for a CPU profile of this process between profileStart and profileStop, and a
 * sampled allocation profile beside it (`.heapprofile`, every allocation, kept or collected).
 */
export function profilerHandlers() {
  const inspector = new Session();
  inspector.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      inspector.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  return {
    profileStart: async () => {
      await post("Profiler.enable");
      await post("Profiler.setSamplingInterval", { interval: 200 });
      await post("Profiler.start");
      await post("HeapProfiler.enable");
      await post("HeapProfiler.startSampling", {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    },
    profileStop: async (params: { file: string }) => {
      const { profile } = await post("Profiler.stop");
      fs.writeFileSync(params.file, JSON.stringify(profile));
      const { profile: heap } = await post("HeapProfiler.stopSampling");
      fs.writeFileSync(params.file.replace(/\.cpuprofile$/, ".heapprofile"), JSON.stringify(heap));
      return params.file;
    },
  };
}
