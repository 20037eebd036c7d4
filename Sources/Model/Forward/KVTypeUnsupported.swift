/// A K/V element type the model's heads cannot be stored in (q8_0 with a
/// head dimension that is not a multiple of 32): refused at start-up,
/// naming the setting to change.
public struct KVTypeUnsupported: Error, Equatable, CustomStringConvertible {
    public let elementType: KVElementType
    public let headDimension: Int
    public var description: String {
        "kv_cache_type \(elementType.rawValue) needs a head dimension that is a multiple of \(elementType.headDimensionMultiple); "
            + "this model's is \(headDimension): set kv_cache_type (KVSERVE_KV_CACHE_TYPE) to f16"
    }
}

extension KVElementType {
    /// Throws unless heads of `headDimension` dimensions can be cached as this type.
    public func requireSupported(headDimension: Int) throws(KVTypeUnsupported) {
        guard headDimension % headDimensionMultiple == 0 else {
            throw KVTypeUnsupported(elementType: self, headDimension: headDimension)
        }
    }
}
