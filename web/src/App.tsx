import { Navigate, Route, Routes } from 'react-router-dom';
import { Layout } from './components/Layout';
import { HomePage } from './pages/HomePage';
import { DiscoverPage } from './pages/DiscoverPage';
import { CampaignPage } from './pages/CampaignPage';
import { SignInPage, SignUpPage } from './pages/AuthPages';
import { NewCampaignPage } from './pages/NewCampaignPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { StoresPage } from './pages/shop/StoresPage';
import { StorefrontPage } from './pages/shop/StorefrontPage';
import { ProductPage } from './pages/shop/ProductPage';
import { CartPage } from './pages/shop/CartPage';
import { MyOrdersPage, OrderPage } from './pages/shop/OrderPages';
import { MyPledgesPage } from './pages/backer/MyPledgesPage';
import { NotificationsPage } from './pages/backer/NotificationsPage';
import { CreatorDashboardPage } from './pages/creator/CreatorDashboardPage';
import { DropPage } from './pages/drops/DropPage';
import { VerifyDrawPage } from './pages/drops/VerifyDrawPage';
import { WaitingRoomPage } from './pages/drops/WaitingRoomPage';
import { MyStoresPage } from './pages/merchant/MyStoresPage';
import { StoreAdminPage } from './pages/merchant/StoreAdminPage';
import { ProductsSection } from './pages/merchant/ProductsSection';
import { InventorySection } from './pages/merchant/InventorySection';
import { OrdersSection } from './pages/merchant/OrdersSection';
import { OrderAdminPage } from './pages/merchant/OrderAdminPage';
import { DropsSection } from './pages/merchant/DropsSection';
import { PlanSection } from './pages/merchant/PlanSection';
import { ServicesPage } from './pages/bookings/ServicesPage';
import { ServicePage } from './pages/bookings/ServicePage';
import { ProviderPage } from './pages/bookings/ProviderPage';
import { MyBookingsPage } from './pages/bookings/MyBookingsPage';
import { BookingPage } from './pages/bookings/BookingPage';
import { ProviderDashboardPage } from './pages/bookings/ProviderDashboardPage';
import { MyInvoicesPage } from './pages/money/MyInvoicesPage';
import { InvoicePage } from './pages/money/InvoicePage';
import { SellerMoneyPage } from './pages/money/SellerMoneyPage';
import { OperatorPage } from './pages/operator/OperatorPage';
import { MyCampaignsPage } from './pages/creator/MyCampaignsPage';

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<HomePage />} />
        <Route path="campaigns" element={<DiscoverPage />} />
        <Route path="campaigns/new" element={<NewCampaignPage />} />
        <Route path="campaigns/:id" element={<CampaignPage />} />
        <Route path="stores" element={<StoresPage />} />
        <Route path="stores/:slug" element={<StorefrontPage />} />
        <Route path="stores/:slug/products/:productId" element={<ProductPage />} />
        <Route path="stores/:slug/cart" element={<CartPage />} />
        <Route path="orders" element={<MyOrdersPage />} />
        <Route path="orders/:id" element={<OrderPage />} />
        <Route path="me/pledges" element={<MyPledgesPage />} />
        <Route path="notifications" element={<NotificationsPage />} />
        <Route path="creator/campaigns" element={<MyCampaignsPage />} />
        <Route path="creator/campaigns/:id" element={<CreatorDashboardPage />} />
        <Route path="drops/:id" element={<DropPage />} />
        <Route path="drops/:id/verify" element={<VerifyDrawPage />} />
        <Route path="drops/:id/queue" element={<WaitingRoomPage />} />
        <Route path="merchant/stores" element={<MyStoresPage />} />
        <Route path="merchant/stores/:storeId" element={<StoreAdminPage />}>
          <Route index element={<Navigate to="products" replace />} />
          <Route path="products" element={<ProductsSection />} />
          <Route path="inventory" element={<InventorySection />} />
          <Route path="orders" element={<OrdersSection />} />
          <Route path="orders/:orderId" element={<OrderAdminPage />} />
          <Route path="drops" element={<DropsSection />} />
          <Route path="plan" element={<PlanSection />} />
        </Route>
        <Route path="services" element={<ServicesPage />} />
        <Route path="services/:id" element={<ServicePage />} />
        <Route path="providers/:id" element={<ProviderPage />} />
        <Route path="me/bookings" element={<MyBookingsPage />} />
        <Route path="bookings/:id" element={<BookingPage />} />
        <Route path="provider" element={<ProviderDashboardPage />} />
        <Route path="me/invoices" element={<MyInvoicesPage />} />
        <Route path="invoices/:id" element={<InvoicePage />} />
        <Route path="me/money" element={<SellerMoneyPage />} />
        <Route path="operator" element={<OperatorPage />} />
        <Route path="signin" element={<SignInPage />} />
        <Route path="signup" element={<SignUpPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
