class Backend extends pulumi.CustomResource {
    static __pulumiType = 'scaleway:loadbalancers/backend:Backend';
    constructor() { const aliasOpts = { aliases: [{ type: "scaleway:index/loadbalancerBackend:LoadbalancerBackend" }] }; }
}
