import fs from "node:fs";
import { Session } from "node:inspector";

/** IPC handlers for a CPU profile of this process between profileStart and profileStop. */
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
    },
    profileStop: async (params: { file: string }) => {
      const { profile } = await post("Profiler.stop");
      fs.writeFileSync(params.file, JSON.stringify(profile));
      return params.file;
    },
  };
}
