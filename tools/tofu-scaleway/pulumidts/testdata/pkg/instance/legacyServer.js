class InstanceServer extends pulumi.CustomResource {
    static __pulumiType = 'scaleway:index/instanceServer:InstanceServer';
}
