"use strict";
class Server extends pulumi.CustomResource {
    static __pulumiType = 'scaleway:instance/server:Server';
    constructor(name, argsOrState, opts) {
        const aliasOpts = { aliases: [{ type: "scaleway:index/instanceServer:InstanceServer" }] };
        const secretOpts = { additionalSecretOutputs: ["userData"] };
    }
}
